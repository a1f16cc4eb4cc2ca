package config

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/probes"
)

func TestExampleConfigLoads(t *testing.T) {
	c, err := Load("../../configs/httptrace.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.PIDs = []int{42}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, m := range probes.Modes {
		if got, want := c.Probes[m].Attachments(), probes.DefaultPlan(m).Attachments(); len(got) != len(want) {
			t.Errorf("%s: example lists %d attachments, defaults have %d", m, len(got), len(want))
		} else {
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%s: example has %+v where the default is %+v", m, got[i], want[i])
				}
			}
		}
	}
}

func TestParseValues(t *testing.T) {
	c, err := Parse("c.yaml", []byte(`
pids: [10, 20]
attach: tracepoint
capture_bytes: 2048
log_format: json
probes:
  kprobe:
    read_entry: k:__sys_recvfrom
    proc_exit: rt:sched_process_free
  tracepoint:
    read_entry: [tracepoint:syscalls:sys_enter_read, t:syscalls:sys_enter_recvfrom]
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.PIDs) != 2 || c.PIDs[1] != 20 || c.Attach != probes.ModeTracepoint || c.CaptureBytes != 2048 || c.LogFormat != "json" {
		t.Errorf("decoded %+v", c)
	}
	if got := c.Probes[probes.ModeKprobe].Roles[probes.Role("read_entry")]; len(got) != 1 || got[0].String() != "kprobe:__sys_recvfrom" {
		t.Errorf("kprobe read_entry = %v", got)
	}
	if got := c.Probes[probes.ModeTracepoint].Roles[probes.Role("read_entry")]; len(got) != 2 || got[1][0].Name != "sys_enter_recvfrom" {
		t.Errorf("tracepoint read_entry = %v", got)
	}
	if got := c.Probes[probes.ModeKprobe].Roles[probes.Role("proc_exit")]; len(got) != 1 || got[0].String() != "rawtracepoint:sched_process_free" {
		t.Errorf("kprobe proc_exit = %v", got)
	}
	// Roles the file does not name keep their defaults.
	if got := c.Probes[probes.ModeKprobe].Roles[probes.Role("read_return")]; len(got) != 1 || got[0].String() != "kretprobe:ksys_read" {
		t.Errorf("kprobe read_return = %v", got)
	}
}

func TestCaptureFitsTheRecord(t *testing.T) {
	if MaxCaptureBytes > event.MaxCaptureBytes {
		t.Errorf("config allows %d capture bytes, a data record holds %d", MaxCaptureBytes, event.MaxCaptureBytes)
	}
}

func TestEmptyFileIsDefaults(t *testing.T) {
	c, err := Parse("e.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Attach != probes.ModeAuto || c.CaptureBytes != DefaultCaptureBytes || c.LogFormat != FormatText {
		t.Errorf("defaults: %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"unknown key", "pids: [1]\ncolour: red\n", `c.yaml:2: colour: unknown key`},
		{"pids not a list", "pids: 12\n", `c.yaml:1: pids: want a list of PIDs, got "12" (int)`},
		{"pid not a number", "pids:\n  - 1\n  - abc\n", `c.yaml:3: pids: want a whole number, got "abc" (str)`},
		{"attach wrong type", "attach: [kprobe]\n", `c.yaml:1: attach: want a string, got a list`},
		{"capture not a number", "capture_bytes: big\n", `c.yaml:1: capture_bytes: want a whole number`},
		{"duplicate key", "attach: auto\nattach: kprobe\n", `c.yaml:2: attach: key given twice`},
		{"unknown mode", "probes:\n  uprobe: {}\n", `c.yaml:2: probes.uprobe: unknown attach mode`},
		{"unknown role", "probes:\n  kprobe:\n    peek_entry: kprobe:ksys_read\n", `c.yaml:3: probes.kprobe.peek_entry: unknown role (want one of read_entry, read_return, readv_entry, `},
		{"process event kind", "probes:\n  tracepoint:\n    proc_fork: tracepoint:sched:sched_process_fork\n", `c.yaml:3: probes.tracepoint.proc_fork: proc_fork must be a rawtracepoint probe`},
		{"bad spec", "probes:\n  kprobe:\n    read_entry: kprobe\n", `c.yaml:3: probes.kprobe.read_entry: probe "kprobe": want kprobe:FUNCTION`},
		{"unknown kind", "probes:\n  kprobe:\n    read_entry: uprobe:/bin/x:f\n", `c.yaml:3: probes.kprobe.read_entry: probe "uprobe:/bin/x:f": unknown kind "uprobe"`},
		{"kind for role", "probes:\n  kprobe:\n    read_return: kprobe:ksys_read\n", `c.yaml:3: probes.kprobe.read_return: read_return in kprobe mode must be a kretprobe probe`},
		{"tracepoint side", "probes:\n  tracepoint:\n    read_entry:\n      - tracepoint:syscalls:sys_enter_read\n      - tracepoint:syscalls:sys_exit_read\n", `c.yaml:5: probes.tracepoint.read_entry: read_entry in tracepoint mode must be tracepoint:syscalls:sys_enter_*`},
		{"tracepoint category", "probes:\n  tracepoint:\n    close_entry: tracepoint:sched:sched_switch\n", `c.yaml:3: probes.tracepoint.close_entry: close_entry in tracepoint mode must be tracepoint:syscalls:sys_enter_*`},
		{"empty list", "probes:\n  kprobe:\n    read_entry: []\n", `c.yaml:3: probes.kprobe.read_entry: empty list`},
		{"syntax", "pids: [1\n", `c.yaml:1: did not find expected ',' or ']'`},
		{"top level list", "- 1\n", `c.yaml:1: the top level: want a mapping, got a list`},
		{"alias bomb", "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\ncomm: *b\n", `c.yaml:1: a: unknown key`},
		{"alias", "pids: &p [1]\ncomm: *p\n", `c.yaml:2: comm: want a string, got an alias`},
		{"bad duration", "exchange_timeout: soon\n", `c.yaml:1: exchange_timeout: "soon" is not a duration`},
		{"comm not text", "comm: [1]\n", `c.yaml:1: comm: want a string, got "1" (int)`},
		{"not utf-8", "pids: [1]\n# caf\xe9\n", `c.yaml:2: not valid UTF-8 text`},
		{"metrics key", "metrics:\n  port: 9\n", `c.yaml:2: metrics.port: unknown key (want listen or ttl)`},
		{"metrics ttl", "metrics:\n  ttl: often\n", `c.yaml:2: metrics.ttl: "often" is not a duration`},
		{"route template", "routes:\n  patterns:\n    - /users/{id}\n    - /a/*/b\n", `c.yaml:4: routes.patterns: route "/a/*/b": * only as the last segment`},
		{"route relative", "routes:\n  patterns: users\n", `c.yaml:2: routes.patterns: route "users": must start with /`},
		{"otlp key", "otlp:\n  url: http://x\n", `c.yaml:2: otlp.url: unknown key (want endpoint, protocol or headers)`},
		{"otlp header", "otlp:\n  headers:\n    api-key: [a]\n", `c.yaml:3: otlp.headers.api-key: want a string, got a list`},
		{"routes key", "routes:\n  max: 3\n", `c.yaml:2: routes.max: unknown key (want patterns or max_per_service)`},
		{"service not a list", "services: {name: a}\n", `c.yaml:1: services: want a list of {name, and comm or port}, got a mapping`},
		{"service both", "services:\n  - {name: a, comm: x, port: 80}\n", `c.yaml:2: services: service "a": give one of comm or port`},
		{"service no name", "services:\n  - {comm: x}\n", `c.yaml:2: services: a service without a name`},
		{"service key", "services:\n  - {name: a, pid: 3}\n", `c.yaml:2: services.pid: unknown key (want name, comm or port)`},
		{"service twice", "services:\n  - {name: a, port: 80}\n  - {name: b, port: 80}\n", `c.yaml:3: services: service "b": port 80 is a already`},
		{"service comm long", "services:\n  - {name: a, comm: a-very-long-command}\n", `c.yaml:2: services: service "a": comm "a-very-long-command" is longer than the 15 bytes`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %q\nwant prefix %q", err, tc.want)
			}
		})
	}
}

func TestValidateErrors(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"no pids", "attach: auto\n", `pids: no process to trace`},
		{"zero pid", "pids: [0]\n", `c.yaml:1: pids: PID 0 is not a process ID`},
		{"pid twice", "pids: [5, 5]\n", `c.yaml:1: pids: PID 5 is listed twice`},
		{"bad attach", "pids: [1]\nattach: fentry\n", `c.yaml:2: attach: "fentry" is not an attach mode (want auto, kprobe or tracepoint)`},
		{"capture too small", "pids: [1]\ncapture_bytes: 10\n", `c.yaml:2: capture_bytes: 10 is out of range (64 to 16384)`},
		{"capture too big", "pids: [1]\ncapture_bytes: 100000\n", `c.yaml:2: capture_bytes: 100000 is out of range (64 to 16384)`},
		{"comm too long", "comm: [nginx, a-very-long-command]\n", `c.yaml:1: comm: "a-very-long-command" is longer than the 15 bytes the kernel keeps of a command name`},
		{"comm empty", "comm: ['']\n", `c.yaml:1: comm: empty command name`},
		{"comm twice", "comm: [nginx, nginx]\n", `c.yaml:1: comm: "nginx" is listed twice`},
		{"header limit small", "pids: [1]\nmax_header_bytes: 100\n", `c.yaml:2: max_header_bytes: 100 is out of range (1024 to 1048576)`},
		{"body negative", "pids: [1]\ncapture_body_bytes: -1\n", `c.yaml:2: capture_body_bytes: -1 is out of range (0 to 65536)`},
		{"timeout short", "pids: [1]\nexchange_timeout: 10ms\n", `c.yaml:2: exchange_timeout: 10ms is out of range (1s to 1h)`},
		{"bad format", "pids: [1]\nlog_format: xml\n", `c.yaml:2: log_format: "xml" is not a log format (want text or json)`},
		{"metrics listen", "pids: [1]\nmetrics:\n  listen: '9464'\n", `c.yaml:3: metrics.listen: "9464" is not HOST:PORT (e.g. 127.0.0.1:9464 or :9464)`},
		{"metrics port", "pids: [1]\nmetrics:\n  listen: localhost:http\n", `c.yaml:3: metrics.listen: "localhost:http": "http" is not a TCP port`},
		{"metrics ttl short", "pids: [1]\nmetrics:\n  ttl: 10s\n", `c.yaml:3: metrics.ttl: 10s is too short (want 30s or more`},
		{"routes cap", "pids: [1]\nroutes:\n  max_per_service: 0\n", `c.yaml:3: routes.max_per_service: 0: want 1 or more`},
		{"otlp endpoint", "pids: [1]\notlp:\n  endpoint: 127.0.0.1:4318\n", `c.yaml:3: otlp.endpoint: "127.0.0.1:4318" is not an http:// or https:// URL (e.g. http://127.0.0.1:4318)`},
		{"otlp protocol", "pids: [1]\notlp:\n  protocol: http/json\n", `c.yaml:3: otlp.protocol: "http/json": want grpc or http/protobuf`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("c.yaml", []byte(tc.yaml))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			err = c.Validate()
			if err == nil || err.Error() != tc.want && !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Validate() = %v\nwant %q", err, tc.want)
			}
		})
	}
}

func TestParseComm(t *testing.T) {
	c, err := Parse("c.yaml", []byte("comm: nginx\nexchange_timeout: 2m\nmax_header_bytes: 4096\ncapture_body_bytes: 64\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Comms) != 1 || c.Comms[0] != "nginx" || c.ExchangeTimeout != 2*time.Minute || c.MaxHeaderBytes != 4096 || c.CaptureBodyBytes != 64 {
		t.Errorf("decoded %+v", c)
	}
}

func TestLoadRejectsOddFiles(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, bytes.Repeat([]byte("# padding\n"), MaxFileBytes/10+1), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ path, want string }{
		{dir, dir + " is not a regular file"},
		{big, big + " is 1048580 bytes, more than the 1048576 a configuration may have"},
	}
	for _, tc := range cases {
		if _, err := Load(tc.path); err == nil || !strings.HasSuffix(err.Error(), tc.want) {
			t.Errorf("Load(%s) = %v, want ...%q", tc.path, err, tc.want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("/nonexistent/httptrace.yaml")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/httptrace.yaml") {
		t.Errorf("Load of a missing file = %v", err)
	}
}

func TestUnixSockets(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want bool
		err  string
	}{
		{"pids: [1]\n", true, ""},
		{"pids: [1]\nunix_sockets: false\n", false, ""},
		{"pids: [1]\nunix_sockets: true\n", true, ""},
		{"pids: [1]\nunix_sockets: maybe\n", false, "c.yaml:2: unix_sockets: want true or false, got \"maybe\" (str)"},
	} {
		cfg, err := Parse("c.yaml", []byte(tc.yaml))
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%q: err %v, want %q", tc.yaml, err, tc.err)
			}
			continue
		}
		if err != nil || cfg.UnixSockets != tc.want {
			t.Errorf("%q: unix_sockets %v (%v), want %v", tc.yaml, cfg.UnixSockets, err, tc.want)
		}
	}
}

func TestParseFilterAndPorts(t *testing.T) {
	c, err := Parse("c.yaml", []byte(`
ports: [8080, 9090]
filter:
  status: [5xx, "404,incomplete"]
  min_latency: 250ms
  path: '/api/*'
  method: [get, POST]
  side: client
  host: example.com
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	f := c.Filter
	if len(c.Ports) != 2 || c.Ports[1] != 9090 || len(f.Statuses) != 3 || f.MinLatency.String() != "250ms" ||
		len(f.Paths) != 1 || f.Paths[0] != "/api/*" || len(f.Methods) != 2 || f.Methods[0] != "GET" || f.Side != "client" ||
		len(f.Hosts) != 1 {
		t.Errorf("parsed %+v ports %v", f, c.Ports)
	}
	if got := f.String(); got != "status=5xx,404,incomplete min_latency=250ms path=/api/* method=GET,POST side=client host=example.com" {
		t.Errorf("String() = %q", got)
	}
	for yaml, want := range map[string]string{
		"pids: [1]\nfilter:\n  side: both\n":           `c.yaml:3: filter.side: "both" is not a side (want server or client)`,
		"pids: [1]\nfilter:\n  min_latency: 5\n":       `c.yaml:3: filter.min_latency: want a string, got "5" (int)`,
		"pids: [1]\nfilter:\n  path: [/a, b]\n":        `c.yaml:3: filter.path: "b" is not a path glob (want one starting with / or *, e.g. '/api/*')`,
		"pids: [1]\nfilter: [5xx]\n":                   "c.yaml:2: filter: want a mapping, got a list",
		"ports: [80, 65536]\n":                         "c.yaml:1: ports: 65536 is not a TCP port (want 1 to 65535)",
		"ports: http\n":                                `c.yaml:1: ports: want a whole number, got "http" (str)`,
		"pids: [1]\nfilter:\n  method: [GET, 'P T']\n": `c.yaml:3: filter.method: "P T" is not a method (want e.g. GET or POST)`,
	} {
		if _, err := Parse("c.yaml", []byte(yaml)); err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %s", yaml, err, want)
		}
	}
}

func TestParseExport(t *testing.T) {
	c, err := Parse("c.yaml", []byte("pids: [1]\nmetrics:\n  listen: 127.0.0.1:9464\n  ttl: 1m\nroutes:\n  patterns:\n    - /users/{id}\n    - /static/*\n  max_per_service: 50\nservices:\n  - {name: web, comm: nginx}\n  - {name: api, port: 8080}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Metrics != (Metrics{Listen: "127.0.0.1:9464", TTL: time.Minute}) || c.Routes.MaxPerService != 50 ||
		strings.Join(c.Routes.Patterns, " ") != "/users/{id} /static/*" ||
		len(c.Services) != 2 || c.Services[0] != (Service{Name: "web", Comm: "nginx"}) || c.Services[1] != (Service{Name: "api", Port: 8080}) {
		t.Errorf("parsed %+v %+v %+v", c.Metrics, c.Routes, c.Services)
	}
	o, err := Parse("c.yaml", []byte("pids: [1]\notlp:\n  endpoint: https://otlp.example:4317\n  protocol: grpc\n  headers:\n    api-key: s3cret\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if o.OTLP.Endpoint != "https://otlp.example:4317" || o.OTLP.Protocol != OTLPGRPC || len(o.OTLP.Headers) != 1 || o.OTLP.Headers["api-key"] != "s3cret" {
		t.Errorf("parsed otlp %+v", o.OTLP)
	}
	d := Default()
	if d.Metrics.TTL != DefaultMetricsTTL || d.Routes.MaxPerService != DefaultMaxRoutesPerService || d.Metrics.Listen != "" {
		t.Errorf("defaults %+v %+v", d.Metrics, d.Routes)
	}
}

// TestOTLPEnvironment: export is on when an endpoint is set in the
// environment, for every signal or for one; its protocol comes from the
// variables, the signal's first, and one that is not served is an error
// naming the variable.
func TestOTLPEnvironment(t *testing.T) {
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
		"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER"} {
		t.Setenv(v, "")
	}
	c := Default()
	c.PIDs = []int{1}
	if c.OTLP.On(SignalTraces) || c.OTLP.On(SignalMetrics) {
		t.Fatal("export on with no endpoint anywhere")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://127.0.0.1:4318/v1/traces")
	if p, err := c.OTLP.Proto(SignalTraces); !c.OTLP.On(SignalTraces) || p != OTLPHTTP || err != nil {
		t.Errorf("on %v, protocol %q (%v): want on, http/protobuf", c.OTLP.On(SignalTraces), p, err)
	}
	if c.OTLP.On(SignalMetrics) {
		t.Error("metrics on with the traces' endpoint only")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://127.0.0.1:4318/v1/metrics")
	if !c.OTLP.On(SignalMetrics) {
		t.Error("metrics off with their endpoint set")
	}
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
	if p, err := c.OTLP.Proto(SignalTraces); p != OTLPGRPC || err != nil {
		t.Errorf("protocol %q (%v): want the traces' variable's, grpc", p, err)
	}
	if err := c.Validate(); err == nil || err.Error() != `OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" is not served (want grpc or http/protobuf)` {
		t.Errorf("validate (the metrics' protocol): %v", err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc")
	if err := c.Validate(); err != nil {
		t.Errorf("validate with each signal's protocol set: %v", err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "")
	if err := c.Validate(); err == nil || err.Error() != `OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" is not served (want grpc or http/protobuf)` {
		t.Errorf("validate: %v", err)
	}
	c.OTLP.Protocol = OTLPGRPC // the file's wins
	if err := c.Validate(); err != nil {
		t.Errorf("validate with otlp.protocol set: %v", err)
	}
	for v, on := range map[string]bool{"prometheus": false, "console": false, "otlp,console": true, " console , otlp": true, "none": false} {
		t.Setenv("OTEL_METRICS_EXPORTER", v)
		if c.OTLP.On(SignalMetrics) != on {
			t.Errorf("OTEL_METRICS_EXPORTER=%q: metrics over OTLP %v, want %v", v, !on, on)
		}
	}
	t.Setenv("OTEL_METRICS_EXPORTER", "")
	for _, off := range []string{"OTEL_SDK_DISABLED=true", "OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none"} {
		k, v, _ := strings.Cut(off, "=")
		t.Setenv(k, v)
		if k != "OTEL_METRICS_EXPORTER" && c.OTLP.On(SignalTraces) {
			t.Errorf("spans on with %s", off)
		}
		if k != "OTEL_TRACES_EXPORTER" && c.OTLP.On(SignalMetrics) {
			t.Errorf("metrics on with %s", off)
		}
		if k == "OTEL_TRACES_EXPORTER" && !c.OTLP.On(SignalMetrics) || k == "OTEL_METRICS_EXPORTER" && !c.OTLP.On(SignalTraces) {
			t.Errorf("%s turned the other signal off", off)
		}
		t.Setenv(k, "")
	}
}
