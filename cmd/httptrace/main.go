// Command httptrace logs the HTTP exchanges (request, response, status,
// latency) of chosen processes, traced from the kernel with eBPF.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/filter"
	"github.com/httptrace/httptrace/pkg/output"
	"github.com/httptrace/httptrace/pkg/preflight"
	"github.com/httptrace/httptrace/pkg/probes"
	"github.com/httptrace/httptrace/pkg/redact"
	"github.com/httptrace/httptrace/pkg/runner"
)

var version = "dev"

const usage = `httptrace logs every HTTP/1.x exchange (request, response, status, latency)
of chosen processes and their children, traced from the kernel with eBPF.

Usage:
  httptrace -c FILE [flags]       trace what the config (and --pid, --comm, --port,
                                  --container, --pod) select
  httptrace --pid N [flags]       trace process N and its descendants
  httptrace --comm NAME [flags]   trace processes named NAME, running or started later
  httptrace --port N [flags]      trace whatever listens on TCP port N, now or later,
                                  and only its connections on that port
  httptrace --container NAME      trace the processes of a container (name or ID),
                                  now, started later, and after a restart
  httptrace --pod [NS/]NAME       trace the containers of a Kubernetes pod, as
                                  --container does (through containerd)
  httptrace bpftrace [flags]      print the same probes as a bpftrace program
                                  (see httptrace bpftrace --help)
  httptrace doctor                check that httptrace can trace here, and say
                                  what is missing (see httptrace doctor --help)

Flags:
  -c, --config FILE      YAML configuration (see configs/httptrace.yaml)
      --pid N            trace process N; repeatable, adds to the config's pids
      --comm NAME        trace processes whose command name is NAME; repeatable
      --port N           trace the processes listening on TCP port N and their
                         connections on it; with --side client, the connections
                         of any selected process (or of any process) to port N;
                         repeatable, adds to the config's ports
      --container NAME   trace a container's processes, by its name or ID,
                         through the container runtime's API (podman's,
                         Docker's or containerd's); repeatable, adds to the
                         config's containers
      --pod [NS/]NAME    trace a Kubernetes pod's containers, found by the
                         kubelet's labels on them (no NS: any namespace);
                         repeatable, adds to the config's pods
      --runtime-socket P the runtime's API socket (default: the first of
                         /run/podman/podman.sock, /run/docker.sock,
                         /var/run/docker.sock, /run/containerd/containerd.sock
                         and /run/k3s/containerd/containerd.sock that
                         answers; containerd's first with --pod)
      --attach MODE      auto, kprobe or tracepoint (overrides the config)
      --log-format FMT   text or json (overrides the config)
      --duration D       stop after D (e.g. 30s); default: until SIGINT/SIGTERM,
                         or until every traced process has exited (--pid only)
      --metrics-addr A   serve Prometheus metrics (RED per route, httptrace's
                         own health) at http://A/metrics, A as HOST:PORT
      --top              a live view in the terminal instead of the exchanges:
                         one row per service and route with requests/s,
                         error %, p50/p90/p99 latency and bytes/s, refreshed
                         each second; keys r e l b n sort (again: reverse),
                         q quits; diagnostics are shown when it ends
  -v, --verbose          debug diagnostics (libbpf, each probe attached)

Filters (all must hold; a repeated flag or a comma list matches any of its
values; they add to the config's filter; left-out exchanges are counted in
the summary's filtered_out):
      --status LIST      codes and classes, e.g. 5xx,404; 0 or incomplete
                         for incomplete exchanges (no response, or one cut
                         short) and unmatched ones (no request), which pass
                         a status filter only when it names them
      --min-latency D    the response began at least D after the request
                         (e.g. 100ms); exchanges with no response never pass
      --path GLOB        the path without its query, e.g. '/api/*' (* matches
                         any run of characters, / included; ? one)
      --method LIST      e.g. POST or GET,HEAD
      --side SIDE        server or client: the traced process's end (with
                         --port, client makes the ports remote ones)
      --host LIST        the Host header, e.g. example.com (any port) or
                         example.com:8080
      --version          print the version and exit
  -h, --help             this help

Recipes:
  slow requests to one port:   httptrace --port 8080 --min-latency 200ms
  5xx of one service:          httptrace --comm gunicorn --status 5xx
  what one client sends:       httptrace --pid 4242 --side client --method POST,PUT
  every call to a port:        httptrace --port 8080 --side client

OTLP: with OTEL_EXPORTER_OTLP_ENDPOINT set (or YAML otlp.endpoint), each
exchange written is also exported as an OpenTelemetry span, and the metrics
every OTEL_METRIC_EXPORT_INTERVAL ms (60000) and at exit
(OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf or grpc; OTEL_TRACES_EXPORTER=none
or OTEL_METRICS_EXPORTER=none turns one off; OTEL_SERVICE_NAME names the
service of every exchange, for spans and metrics alike).

Exchanges go to stdout, diagnostics to stderr. A second SIGINT exits at once.
Exit status: 0 after a clean stop, 2 for a bad configuration or usage, 1 for a
failure while tracing.

Environment:
  HTTPTRACE_CPUPROFILE=FILE   write a Go CPU profile of the run to FILE
  HTTPTRACE_MEMPROFILE=FILE   write a Go allocation profile to FILE at exit
`

// exit codes
const (
	exitRuntime     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// pidList is a repeatable --pid flag.
type pidList []int

func (p *pidList) String() string { return fmt.Sprint(*p) }
func (p *pidList) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q is not a PID", s)
	}
	*p = append(*p, n)
	return nil
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// portList is a repeatable --port flag.
type portList []int

func (p *portList) String() string { return fmt.Sprint(*p) }
func (p *portList) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q is not a TCP port (want 1 to 65535)", s)
	}
	*p = append(*p, n)
	return nil
}

// filterFlag is a repeatable filter flag whose values parse into f.
type filterFlag struct {
	raw   []string
	parse func(string) error
}

func (f *filterFlag) String() string { return strings.Join(f.raw, ",") }
func (f *filterFlag) Set(s string) error {
	f.raw = append(f.raw, s)
	return f.parse(s)
}

// options are the parsed command line.
type options struct {
	configPath  string
	pids        pidList
	comms       stringList
	ports       portList
	containers  stringList
	pods        stringList
	runtimeSock string
	filter      filter.Filter
	attach      string
	logFormat   string
	duration    time.Duration
	metricsAddr string
	verbose     bool
	showVersion bool
	top         bool
}

// newFlagSet makes a quiet flag set (usage is printed by hand) with the
// flags that choose a configuration: -c/--config, --pid and --attach.
func newFlagSet(name string, o *options) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.configPath, "c", "", "")
	fs.StringVar(&o.configPath, "config", "", "")
	fs.Var(&o.pids, "pid", "")
	fs.Var(&o.comms, "comm", "")
	fs.Var(&o.ports, "port", "")
	fs.StringVar(&o.attach, "attach", "", "")
	return fs
}

// filterFlags adds the filter flags (filter.Keys, - for _), parsing into f.
func filterFlags(fs *flag.FlagSet, f *filter.Filter) {
	for _, key := range filter.Keys {
		fs.Var(&filterFlag{parse: func(s string) error { return f.Add(key, s) }}, strings.ReplaceAll(key, "_", "-"), "")
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := newFlagSet("httptrace", &o)
	fs.StringVar(&o.logFormat, "log-format", "", "")
	fs.Var(&o.containers, "container", "")
	fs.Var(&o.pods, "pod", "")
	fs.StringVar(&o.runtimeSock, "runtime-socket", "", "")
	filterFlags(fs, &o.filter)
	fs.DurationVar(&o.duration, "duration", 0, "")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "")
	fs.BoolVar(&o.verbose, "v", false, "")
	fs.BoolVar(&o.verbose, "verbose", false, "")
	fs.BoolVar(&o.showVersion, "version", false, "")
	fs.BoolVar(&o.top, "top", false, "")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.duration < 0 {
		return o, fmt.Errorf("--duration %s is negative", o.duration)
	}
	return o, nil
}

// loadConfig reads the file (if any), applies the flags over it, validates
// the result and checks that its PIDs exist.
func loadConfig(o options) (config.Config, error) {
	cfg, err := readConfig(o)
	if err != nil {
		return cfg, err
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, preflight.PIDs(cfg.PIDs)
}

// readConfig reads the file (if any) and applies the flags over it, unchecked.
func readConfig(o options) (config.Config, error) {
	cfg := config.Default()
	if o.configPath != "" {
		var err error
		if cfg, err = config.Load(o.configPath); err != nil {
			return cfg, err
		}
	}
	cfg.PIDs = append(cfg.PIDs, o.pids...)
	cfg.Comms = append(cfg.Comms, o.comms...)
	cfg.Ports = append(cfg.Ports, o.ports...)
	for _, c := range o.containers { // a flag may repeat what the file says
		if !slices.Contains(cfg.Containers, c) {
			cfg.Containers = append(cfg.Containers, c)
		}
	}
	for _, p := range o.pods {
		if !slices.Contains(cfg.Pods, p) {
			cfg.Pods = append(cfg.Pods, p)
		}
	}
	if o.runtimeSock != "" {
		cfg.RuntimeSocket = o.runtimeSock
	}
	cfg.Filter.Merge(o.filter)
	if o.attach != "" {
		cfg.Attach = probes.Mode(o.attach)
	}
	if o.logFormat != "" {
		cfg.LogFormat = o.logFormat
	}
	if o.metricsAddr != "" {
		cfg.Metrics.Listen = o.metricsAddr
	}
	return cfg, nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "bpftrace" {
		return runBpftrace(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "doctor" {
		return runDoctor(args[1:], stdout, stderr)
	}
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "httptrace: %v (see httptrace --help)\n", err)
		return exitUsage
	}
	if o.showVersion {
		fmt.Fprintf(stdout, "httptrace %s\n", version)
		return 0
	}
	cfg, err := loadConfig(o)
	if err != nil {
		fmt.Fprintf(stderr, "httptrace: %v\n", err)
		return exitUsage
	}
	// The redaction key file is read now, so a bad one is a usage error.
	redactor, err := redact.New(cfg.Redact)
	if err != nil {
		fmt.Fprintf(stderr, "httptrace: %v\n", err)
		return exitUsage
	}

	level := logrus.InfoLevel
	if o.verbose {
		level = logrus.DebugLevel
	}
	diagOut := stderr
	var ts *topSession
	if o.top {
		if ts, err = newTopSession(cfg, stdout, stderr); err != nil {
			fmt.Fprintf(stderr, "httptrace: %v\n", err)
			return exitUsage
		}
		diagOut = ts.held
	}
	diag := output.NewDiagLogger(diagOut, cfg.LogFormat, level)
	stopProfile, err := startProfile(os.Getenv("HTTPTRACE_CPUPROFILE"), os.Getenv("HTTPTRACE_MEMPROFILE"))
	if err != nil {
		fmt.Fprintf(stderr, "httptrace: %v\n", err)
		return exitUsage
	}
	defer stopProfile()

	ctx, cancel := signalContext(diag, ts.abort)
	defer cancel()
	if o.duration > 0 {
		var cancelTimeout context.CancelFunc
		ctx, cancelTimeout = context.WithTimeout(ctx, o.duration)
		defer cancelTimeout()
	}
	if cfg.Redact.Disabled() {
		diag.Warn("redaction is off (redact.mode: none): header and query secrets are logged in clear")
	}
	rio := runner.IO{Out: stdout, Log: diag, Redactor: redactor}
	if ts != nil {
		// Quitting the view stops the tracing, as the first signal does.
		var quit context.CancelFunc
		ctx, quit = context.WithCancel(ctx)
		defer quit()
		rio.Out, rio.View = io.Discard, ts.view(diag, quit)
	}
	_, err = runner.Run(ctx, cfg, rio)
	ts.end(diag)
	if setup := (*runner.SetupError)(nil); errors.As(err, &setup) {
		fmt.Fprintf(stderr, "httptrace: %v\n", strings.TrimSpace(err.Error()))
		return exitUsage
	}
	if err != nil {
		diag.Error(strings.TrimSpace(err.Error()))
		return exitRuntime
	}
	return 0
}

// signalContext is cancelled by the first SIGINT or SIGTERM; a second one
// exits at once, without a summary, after abort.
func signalContext(log *logrus.Logger, abort func()) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		<-sigs
		log.Warn("second signal: exiting at once")
		abort()
		os.Exit(exitInterrupted)
	}()
	return ctx, func() { signal.Stop(sigs); cancel() }
}

// startProfile writes a CPU profile to cpuPath until the returned func
// runs, and an allocation profile to memPath when it runs. Both files are
// created first, so a path that cannot be written stops the run at once.
func startProfile(cpuPath, memPath string) (func(), error) {
	stopCPU, err := startCPUProfile(cpuPath)
	if err != nil {
		return nil, err
	}
	if memPath == "" {
		return stopCPU, nil
	}
	f, err := os.Create(memPath)
	if err != nil {
		stopCPU()
		return nil, fmt.Errorf("HTTPTRACE_MEMPROFILE: %w", err)
	}
	return func() {
		stopCPU()
		runtime.GC() // the profile is as of the last collection
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			fmt.Fprintf(os.Stderr, "httptrace: HTTPTRACE_MEMPROFILE: %v\n", err)
		}
		f.Close()
	}, nil
}

// startCPUProfile writes a CPU profile to path until the returned func runs.
func startCPUProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("HTTPTRACE_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("HTTPTRACE_CPUPROFILE: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
