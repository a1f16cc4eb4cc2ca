// Export: one span per exchange over OTLP to a real Jaeger.
package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// otlpRequest is one request sent to nginx and the span it must make.
type otlpRequest struct {
	path   string
	status int
	// parent is the traceparent sent ("": none): the span is a child of
	// its span, in its trace.
	traceID, parentID string
}

// sendOTLPMix sends nginx a known mix: 200s, a 404, a 500, and requests carrying
// a traceparent. tag makes the paths of one call apart from another's.
func sendOTLPMix(t *testing.T, ngx *harness.Nginx, tag int) []otlpRequest {
	t.Helper()
	reqs := []otlpRequest{
		{path: fmt.Sprintf("/status/200/%d1", tag), status: 200},
		{path: fmt.Sprintf("/status/200/%d2", tag), status: 200, traceID: fmt.Sprintf("4bf92f3577b34da6a3ce929d0e0e%04d", tag), parentID: "00f067aa0ba902b7"},
		{path: fmt.Sprintf("/status/500/%d3", tag), status: 500},
		{path: fmt.Sprintf("/status/404/%d4", tag), status: 404, traceID: fmt.Sprintf("0af7651916cd43dd8448eb211c80%04d", tag), parentID: "b7ad6b7169203331"},
	}
	for _, r := range reqs {
		req, err := http.NewRequest("GET", ngx.URL(r.path), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", "otlp-test/1")
		if r.traceID != "" {
			req.Header.Set("traceparent", "00-"+r.traceID+"-"+r.parentID+"-01")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != r.status {
			t.Fatalf("GET %s: %d, want %d", r.path, resp.StatusCode, r.status)
		}
	}
	return reqs
}

// checkSpans checks that Jaeger holds exactly one span per request, with
// the conventions' attributes, the parent its traceparent named, and an
// error status for the 5xx.
func checkSpans(t *testing.T, spans []harness.JaegerSpan, reqs []otlpRequest) int {
	t.Helper()
	byPath := map[string][]harness.JaegerSpan{}
	for _, s := range spans {
		byPath[s.Tag("url.path")] = append(byPath[s.Tag("url.path")], s)
	}
	good := 0
	for _, r := range reqs {
		got := byPath[r.path]
		if len(got) != 1 {
			t.Errorf("%s: %d spans in Jaeger, want 1", r.path, len(got))
			continue
		}
		s, bad := got[0], []string{}
		want := map[string]string{
			"span.kind": "server", "http.request.method": "GET", "http.route": "/status/{id}/{id}",
			"http.response.status_code": fmt.Sprint(r.status), "server.address": "127.0.0.1",
			"user_agent.original": "otlp-test/1", "network.protocol.version": "1.1", "url.scheme": "http",
		}
		for k, v := range want {
			if s.Tag(k) != v {
				bad = append(bad, fmt.Sprintf("%s=%q (want %q)", k, s.Tag(k), v))
			}
		}
		if s.OperationName != "GET /status/{id}/{id}" {
			bad = append(bad, fmt.Sprintf("name %q", s.OperationName))
		}
		if errTag := s.Tag("error"); (r.status >= 500) != (errTag == "true") {
			bad = append(bad, fmt.Sprintf("error=%q for status %d", errTag, r.status))
		}
		if s.Duration <= 0 || s.StartTime < time.Now().Add(-10*time.Minute).UnixMicro() {
			bad = append(bad, fmt.Sprintf("start %d duration %dµs", s.StartTime, s.Duration))
		}
		if r.traceID != "" {
			if s.TraceID != r.traceID || len(s.References) != 1 || s.References[0].SpanID != r.parentID || s.References[0].RefType != "CHILD_OF" {
				bad = append(bad, fmt.Sprintf("trace %s references %+v, want a child of %s in trace %s", s.TraceID, s.References, r.parentID, r.traceID))
			}
		} else if len(s.References) != 0 {
			bad = append(bad, fmt.Sprintf("references %+v, want a root span", s.References))
		}
		if len(bad) > 0 {
			t.Errorf("%s: %s", r.path, strings.Join(bad, "; "))
			continue
		}
		good++
	}
	return good
}

// otlpTracer traces nginx exporting spans as the YAML's otlp section
// says, with env added to httptrace's environment.
func otlpTracer(t *testing.T, ngx *harness.Nginx, otlp string, env ...string) *harness.Tracer {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "httptrace.yaml")
	if err := os.WriteFile(conf, []byte("routes:\n  patterns: [\"/static/*\"]\n"+otlp), 0o644); err != nil {
		t.Fatal(err)
	}
	harness.RequireRoot(t)
	cmd := exec.Command(harness.Bin(t), "--attach", harness.Mode(), "--log-format", "json", "--pid", fmt.Sprint(ngx.PID()), "-c", conf)
	cmd.Env = append(os.Environ(), env...)
	return harness.StartTracerCmd(t, cmd)
}

// TestOTLPJaeger exports nginx's exchanges over OTLP http/protobuf (the
// endpoint from the YAML) to Jaeger, and asks Jaeger's query API for them.
func TestOTLPJaeger(t *testing.T) {
	jg := harness.StartJaeger(t)
	ngx := harness.StartNginx(t)
	tr := otlpTracer(t, ngx, fmt.Sprintf("otlp:\n  endpoint: http://%s\n", jg.OTLPHTTP))
	reqs := sendOTLPMix(t, ngx, 1)
	tr.WaitRecords(t, len(reqs), waitForLogs)
	sum := tr.StopAndSummary(t) // exports what waits
	spans := jg.WaitSpans(t, "nginx", len(reqs), 30*time.Second)
	good := checkSpans(t, spans, reqs)
	if len(spans) != len(reqs) {
		t.Errorf("Jaeger holds %d spans of nginx, want %d", len(spans), len(reqs))
	}
	if n, d := summaryCount(sum.Line, "export_spans"), summaryCount(sum.Line, "export_dropped"); n != len(reqs) || d != 0 {
		t.Errorf("summary: export_spans=%d export_dropped=%d, want %d and 0: %s", n, d, len(reqs), sum.Line)
	}
	fmt.Printf("e2e-result: suite=otlp mode=%s spans=%d/%d\n", tr.Mode, good, len(reqs))
}

// TestOTLPJaegerGRPC exports over OTLP gRPC, configured by the standard
// variables alone, with OTEL_SERVICE_NAME naming the service.
func TestOTLPJaegerGRPC(t *testing.T) {
	jg := harness.StartJaeger(t)
	ngx := harness.StartNginx(t)
	tr := otlpTracer(t, ngx, "", "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+jg.OTLPGRPC, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_SERVICE_NAME=shop-frontend")
	reqs := sendOTLPMix(t, ngx, 2)
	tr.WaitRecords(t, len(reqs), waitForLogs)
	sum := tr.StopAndSummary(t)
	if n, d := summaryCount(sum.Line, "export_spans"), summaryCount(sum.Line, "export_dropped"); n != len(reqs) || d != 0 {
		t.Errorf("summary: export_spans=%d export_dropped=%d, want %d and 0: %s", n, d, len(reqs), sum.Line)
	}
	spans := jg.WaitSpans(t, "shop-frontend", len(reqs), 30*time.Second)
	good := checkSpans(t, spans, reqs)
	if len(spans) != len(reqs) {
		t.Errorf("Jaeger holds %d spans of shop-frontend, want %d", len(spans), len(reqs))
	}
	fmt.Printf("e2e-result: suite=otlp-grpc mode=%s spans=%d/%d\n", tr.Mode, good, len(reqs))
}

// TestOTLPJaegerDown kills Jaeger mid-run: tracing goes on and stdout
// misses nothing. Restarted on the same ports, Jaeger gets the spans of
// what follows (and what the export's retries kept of the time it was
// down). Then frozen (SIGSTOP: it takes connections and never answers),
// the spans left are dropped and counted, with a warning, and httptrace
// still stops within the export's 5 s. Every span is either
// exported or counted as dropped.
func TestOTLPJaegerDown(t *testing.T) {
	jg := harness.StartJaeger(t)
	ngx := harness.StartNginx(t)
	tr := otlpTracer(t, ngx, fmt.Sprintf("otlp:\n  endpoint: http://%s\n", jg.OTLPHTTP))
	first := sendOTLPMix(t, ngx, 3)
	if got := jg.WaitSpans(t, "nginx", len(first), 30*time.Second); len(got) != len(first) {
		t.Fatalf("Jaeger holds %d spans before it was killed, want %d", len(got), len(first))
	}
	jg.Kill(t)
	down := sendOTLPMix(t, ngx, 4)
	tr.WaitRecords(t, len(first)+len(down), waitForLogs)
	jg.Restart(t)
	after := sendOTLPMix(t, ngx, 5)
	// The restarted Jaeger gets what came after it.
	spans := spansOf(jg.WaitSpans(t, "nginx", len(after), 30*time.Second), after)
	for deadline := time.Now().Add(30 * time.Second); len(spans) < len(after) && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		spans = spansOf(jg.Spans(t, "nginx"), after)
	}
	good := checkSpans(t, spans, after)
	redelivered := len(jg.Spans(t, "nginx")) - len(spans)
	// Frozen, not killed: connections are taken and never answered, so the
	// export hangs rather than fails; stopping must not wait for it.
	jg.Freeze(t)
	final := sendOTLPMix(t, ngx, 6)
	total := len(first) + len(down) + len(after) + len(final)
	recs := tr.WaitRecords(t, total, waitForLogs)
	begin := time.Now()
	sum := tr.StopAndSummary(t)
	if d := time.Since(begin); d > 12*time.Second {
		t.Errorf("httptrace took %v to stop with Jaeger down", d)
	}
	if len(recs) != total {
		t.Errorf("stdout has %d exchanges, want %d: tracing stopped with Jaeger", len(recs), total)
	}
	exported, dropped := summaryCount(sum.Line, "export_spans"), summaryCount(sum.Line, "export_dropped")
	if exported+dropped != total || dropped < len(final) || exported < len(first)+len(after) {
		t.Errorf("summary: export_spans=%d export_dropped=%d: want each of the %d exchanges exported or counted as dropped, "+
			"the %d sent after the last kill dropped: %s", exported, dropped, total, len(final), sum.Line)
	}
	if !strings.Contains(strings.Join(tr.Stderr(), "\n"), "OTLP export: spans dropped") {
		t.Errorf("no warning of the dropped spans")
	}
	t.Logf("while Jaeger was down the first time: %d spans exported once it was back; in all %d exported, %d dropped",
		redelivered, exported, dropped)
	fmt.Printf("e2e-result: suite=otlp-down mode=%s spans=%d/%d\n", tr.Mode, good, len(after))
}

// spansOf are the spans of reqs' paths.
func spansOf(spans []harness.JaegerSpan, reqs []otlpRequest) []harness.JaegerSpan {
	want := map[string]bool{}
	for _, r := range reqs {
		want[r.path] = true
	}
	var out []harness.JaegerSpan
	for _, s := range spans {
		if want[s.Tag("url.path")] {
			out = append(out, s)
		}
	}
	return out
}

// TestOTLPProxy traces nginx forwarding /proxy/ to a Go server, both
// traced: a request carrying a traceparent makes three spans in its trace,
// nginx's SERVER span, nginx's CLIENT span of the upstream call (nginx
// forwards the header) and the Go server's SERVER span, each a child of
// the span the traceparent names (the bytes name no other parent).
func TestOTLPProxy(t *testing.T) {
	jg := harness.StartJaeger(t)
	up := harness.StartGoServer(t)
	ngx := harness.StartNginxProxy(t, up.Addr)
	conf := filepath.Join(t.TempDir(), "httptrace.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("otlp:\n  endpoint: http://%s\n", jg.OTLPHTTP)), 0o644); err != nil {
		t.Fatal(err)
	}
	harness.RequireRoot(t)
	tr := harness.StartTracer(t, harness.Mode(), []int{ngx.PID(), up.PID()}, "-c", conf)
	const traceID, parentID = "5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"
	req, err := http.NewRequest("GET", "http://"+ngx.Addr+"/proxy/ok/otlp", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("traceparent", "00-"+traceID+"-"+parentID+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /proxy/ok/otlp through nginx: %d", resp.StatusCode)
	}
	tr.WaitRecords(t, 3, waitForLogs)
	tr.StopAndSummary(t)
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", up.PID()))
	if err != nil {
		t.Fatal(err)
	}
	upComm := strings.TrimSpace(string(raw)) // the service: the process's comm
	var got []string
	for svc, n := range map[string]int{"nginx": 2, upComm: 1} {
		for _, s := range jg.WaitSpans(t, svc, n, 30*time.Second) {
			parent := ""
			if len(s.References) == 1 {
				parent = s.References[0].SpanID
			}
			got = append(got, fmt.Sprintf("%s %s %s trace=%v parent=%v", svc, s.Tag("span.kind"), s.Tag("url.path"),
				s.TraceID == traceID, parent == parentID))
		}
	}
	want := []string{
		"nginx client /ok/otlp trace=true parent=true",
		"nginx server /proxy/ok/otlp trace=true parent=true",
		upComm + " server /ok/otlp trace=true parent=true",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("spans in Jaeger:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	good := 0
	for _, g := range got {
		if slices.Contains(want, g) {
			good++
		}
	}
	fmt.Printf("e2e-result: suite=otlp-proxy mode=%s spans=%d/%d\n", tr.Mode, good, len(want))
}
