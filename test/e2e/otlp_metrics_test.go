// Export: the aggregation's metrics over OTLP, to a real OpenTelemetry
// Collector (Jaeger's) whose Prometheus exporter a real Prometheus scrapes.
package e2e

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// waitSample waits until Prometheus answers q with one sample of value
// want, and returns it.
func waitSample(t *testing.T, prom *harness.Prometheus, q, want string) harness.Sample {
	t.Helper()
	var got []harness.Sample
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(250 * time.Millisecond) {
		if got = prom.Query(t, q); len(got) == 1 && got[0].Value == want {
			return got[0]
		}
	}
	t.Fatalf("Prometheus answers %s with %+v after 30s, want one sample of %s", q, got, want)
	return harness.Sample{}
}

// TestOTLPMetrics exports nginx's metrics over OTLP to Jaeger's collector,
// scraped by Prometheus. First over http/protobuf from the YAML's
// endpoint, every OTEL_METRIC_EXPORT_INTERVAL, with spans turned off
// (OTEL_TRACES_EXPORTER=none): the counts arrive while httptrace runs,
// under the names and labels of httptrace's own /metrics, and so do its
// own counters. Then over gRPC from the variables alone, with an interval
// that never ends: the one export is the last one, when httptrace stops.
func TestOTLPMetrics(t *testing.T) {
	jg := harness.StartJaeger(t)
	prom := harness.StartPrometheus(t, jg.Metrics)
	ngx := harness.StartNginx(t)
	_, port, _ := net.SplitHostPort(ngx.Addr)

	tr := otlpTracer(t, ngx, fmt.Sprintf("otlp:\n  endpoint: http://%s\n", jg.OTLPHTTP),
		"OTEL_METRIC_EXPORT_INTERVAL=500", "OTEL_TRACES_EXPORTER=none")
	reqs := sendOTLPMix(t, ngx, 7)
	tr.WaitRecords(t, len(reqs), waitForLogs)
	s := waitSample(t, prom, `http_server_request_duration_seconds_count{service_name="nginx",http_response_status_code="200"}`, "2")
	want := map[string]string{"http_request_method": "GET", "http_route": "/status/{id}/{id}", "url_scheme": "http",
		"server_address": "127.0.0.1", "server_port": port, "network_protocol_version": "1.1"}
	for k, v := range want {
		if s.Labels[k] != v {
			t.Errorf("label %s=%q, want %q: %v", k, s.Labels[k], v, s.Labels)
		}
	}
	for _, code := range []string{"404", "500"} {
		waitSample(t, prom, `http_server_request_duration_seconds_count{service_name="nginx",http_response_status_code="`+code+`"}`, "1")
	}
	waitSample(t, prom, `http_server_response_body_size_bytes_count{service_name="nginx",http_response_status_code="500",error_type="500"}`, "1")
	waitSample(t, prom, `count(http_server_request_duration_seconds_count{service_name="nginx",error_type!=""})`, "1") // the 500's alone
	// The buckets are cumulative once in Prometheus: the last holds all.
	waitSample(t, prom, `http_server_request_duration_seconds_bucket{service_name="nginx",http_response_status_code="200",le="+Inf"}`, "2")
	waitSample(t, prom, `httptrace_exchanges_total{service_name="httptrace"}`, fmt.Sprint(len(reqs)))
	// Three series (200, 404, 500), under /metrics' own name.
	waitSample(t, prom, `httptrace_series{service_name="httptrace"}`, "3")
	sum := tr.StopAndSummary(t)
	if n, f := summaryCount(sum.Line, "export_metrics"), summaryCount(sum.Line, "export_metrics_failed"); n < 2 || f != 0 {
		t.Errorf("summary: export_metrics=%d export_metrics_failed=%d, want 2 or more and 0: %s", n, f, sum.Line)
	}
	if strings.Contains(sum.Line, `"export_spans"`) {
		t.Errorf("spans exported with OTEL_TRACES_EXPORTER=none: %s", sum.Line)
	}
	if spans := jg.Spans(t, "nginx"); len(spans) != 0 {
		t.Errorf("Jaeger holds %d spans of nginx with OTEL_TRACES_EXPORTER=none", len(spans))
	}
	good := 0
	if !t.Failed() {
		good++
	}

	tr = otlpTracer(t, ngx, "", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=http://"+jg.OTLPGRPC, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=grpc",
		"OTEL_METRIC_EXPORT_INTERVAL=3600000", "OTEL_SERVICE_NAME=shop-metrics")
	last := sendOTLPMix(t, ngx, 8)
	tr.WaitRecords(t, len(last), waitForLogs)
	sum = tr.StopAndSummary(t)
	if n := summaryCount(sum.Line, "export_metrics"); n != 1 {
		t.Errorf("summary: export_metrics=%d, want the last export only: %s", n, sum.Line)
	}
	waitSample(t, prom, `http_server_request_duration_seconds_count{service_name="shop-metrics",http_response_status_code="200"}`, "2")
	if !t.Failed() {
		good++
	}
	fmt.Printf("e2e-result: suite=otlp-metrics mode=%s runs=%d/2\n", tr.Mode, good)
}
