package harness

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/jaegerconf"
)

// JaegerEnv names the Jaeger binary (make builds it into bin/jaeger from
// the tools module).
const JaegerEnv = "HTTPTRACE_JAEGER"

// Jaeger is a real Jaeger (v2, all in one, in-memory storage) that
// receives OTLP: spans into its storage, and metrics through the
// OpenTelemetry Collector's Prometheus exporter, which it is built with.
type Jaeger struct {
	*Proc
	OTLPHTTP string // host:port of its OTLP http/protobuf receiver
	OTLPGRPC string // host:port of its OTLP gRPC receiver
	Query    string // host:port of its query API
	// Metrics is host:port of the metrics it received, for Prometheus to
	// scrape (/metrics), resource attributes as labels.
	Metrics string
	bin     string
	conf    string
}

// StartJaeger runs Jaeger on free loopback ports and waits until its query
// API answers.
func StartJaeger(t testing.TB) *Jaeger {
	t.Helper()
	bin := NeedEnvBinary(t, JaegerEnv, "make test-otlp builds bin/jaeger and sets it")
	j := &Jaeger{OTLPHTTP: FreeAddr(t), OTLPGRPC: FreeAddr(t), Query: FreeAddr(t), Metrics: FreeAddr(t), bin: bin,
		conf: filepath.Join(t.TempDir(), "jaeger.yaml")}
	conf, err := jaegerconf.Config(jaegerconf.Addrs{OTLPGRPC: j.OTLPGRPC, OTLPHTTP: j.OTLPHTTP, QueryHTTP: j.Query,
		QueryGRPC: FreeAddr(t), Metrics: j.Metrics, MaxTraces: 100000})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(j.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	j.start(t)
	return j
}

// start runs the binary and waits for its query API.
func (j *Jaeger) start(t testing.TB) {
	t.Helper()
	j.Proc = Start(t, exec.Command(j.bin, "--config", j.conf))
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + j.Query + "/api/services")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("jaeger's query API not ready at %s after 60s: %v\n%s", j.Query, err, j.Stderr())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Kill stops Jaeger at once, its stored spans with it.
func (j *Jaeger) Kill(t testing.TB) {
	t.Helper()
	j.Cmd.Process.Kill()
	<-j.done
}

// Freeze stops Jaeger with SIGSTOP: its sockets take connections that are
// never answered. It is killed when the test ends.
func (j *Jaeger) Freeze(t testing.TB) {
	t.Helper()
	if err := j.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Cmd.Process.Signal(syscall.SIGCONT) })
}

// Restart starts Jaeger again on the same ports, with nothing stored.
func (j *Jaeger) Restart(t testing.TB) {
	t.Helper()
	j.start(t)
}

// JaegerTag is a span's attribute as Jaeger's query API gives it.
type JaegerTag struct {
	Key   string `json:"key"`
	Value any    `json:"value"`
}

// JaegerSpan is one span as Jaeger's query API gives it.
type JaegerSpan struct {
	// Service is the service.name of the span's process.
	Service       string      `json:"-"`
	ProcessID     string      `json:"processID"`
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	StartTime     int64       `json:"startTime"` // µs since the epoch
	Duration      int64       `json:"duration"`  // µs
	Tags          []JaegerTag `json:"tags"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
}

// Tag is the value of the span's tag key, as text ("" when it has none).
func (s JaegerSpan) Tag(key string) string {
	for _, tg := range s.Tags {
		if tg.Key == key {
			return fmt.Sprint(tg.Value)
		}
	}
	return ""
}

// Spans are the spans Jaeger holds of service (its query API gives whole
// traces: the other services' spans in them are left out).
func (j *Jaeger) Spans(t testing.TB, service string) []JaegerSpan {
	t.Helper()
	q := url.Values{"service": {service}, "limit": {"10000"}, "lookback": {"1h"}}
	resp, err := http.Get("http://" + j.Query + "/api/traces?" + q.Encode())
	if err != nil {
		t.Fatalf("jaeger query: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Data []struct {
			Spans     []JaegerSpan `json:"spans"`
			Processes map[string]struct {
				ServiceName string `json:"serviceName"`
			} `json:"processes"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("jaeger query: %v", err)
	}
	var out []JaegerSpan
	for _, tr := range body.Data {
		for _, sp := range tr.Spans {
			if sp.Service = tr.Processes[sp.ProcessID].ServiceName; sp.Service == service {
				out = append(out, sp)
			}
		}
	}
	return out
}

// WaitSpans waits until Jaeger holds n spans of service, or timeout; it
// returns what it holds then.
func (j *Jaeger) WaitSpans(t testing.TB, service string, n int, timeout time.Duration) []JaegerSpan {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		spans := j.Spans(t, service)
		if len(spans) >= n || time.Now().After(deadline) {
			return spans
		}
		time.Sleep(200 * time.Millisecond)
	}
}
