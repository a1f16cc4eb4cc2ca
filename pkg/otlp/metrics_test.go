package otlp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/httptrace/httptrace/pkg/aggregate"
	"github.com/httptrace/httptrace/pkg/record"
)

// metricSink is an OTLP metric exporter that keeps what it is given, or
// fails while fail is set, or blocks until its context ends while block
// is set.
type metricSink struct {
	sdkmetric.Exporter // the selectors, never called
	mu                 sync.Mutex
	got                [][]*metricdata.ResourceMetrics // per export
	cur                []*metricdata.ResourceMetrics
	fail, block        bool
	shutdown           bool
	calls              int // Export calls begun
}

func (s *metricSink) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	s.mu.Lock()
	fail, block := s.fail, s.block
	s.calls++
	s.mu.Unlock()
	if block {
		<-ctx.Done()
		return ctx.Err()
	}
	if fail {
		return errors.New("connection refused")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = append(s.cur, rm)
	if rm.Resource != nil {
		if v, _ := rm.Resource.Set().Value("service.name"); v.AsString() == SelfService {
			s.got, s.cur = append(s.got, s.cur), nil
		}
	}
	return nil
}

func (s *metricSink) Shutdown(context.Context) error { s.shutdown = true; return nil }

func (s *metricSink) exports() [][]*metricdata.ResourceMetrics {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

// metric finds name under service in one export.
func metric(export []*metricdata.ResourceMetrics, service, name string) (metricdata.Metrics, bool) {
	for _, rm := range export {
		if v, _ := rm.Resource.Set().Value("service.name"); v.AsString() != service {
			continue
		}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if m.Name == name {
					return m, true
				}
			}
		}
	}
	return metricdata.Metrics{}, false
}

// TestMetricsExported: the aggregation's series become the semantic
// conventions' histograms under each service's resource, with the
// series' labels as attributes (dotted), cumulative from the series'
// start; httptrace's own counts follow under its own resource.
func TestMetricsExported(t *testing.T) {
	agg := aggregate.New(aggregate.Options{})
	for i, status := range []int{200, 200, 503, 200} {
		end := uint64(2_000_001) // 2 ms: the first bucket
		if i == 3 {
			end = 300_000_001 // 300 ms: the bucket up to 0.5 s
		}
		agg.Write(&record.Exchange{Comm: "nginx", Side: record.Server, Method: "GET", Path: "/users/" + string(rune('1'+i)), Proto: "HTTP/1.1",
			Status: status, Server: "127.0.0.1:8080", RequestStartNs: 1, ResponseEndNs: end, ResponseBodyBytes: 5})
	}
	agg.Write(&record.Exchange{Comm: "curl", Side: record.Client, Method: "POST", Path: "/api", Proto: "HTTP/1.1",
		Status: 201, Server: "10.1.2.3:443", TLS: true, Headers: []record.Header{{Name: "Host", Value: "api.example.com"}},
		RequestStartNs: 1, ResponseEndNs: 30_000_001, RequestBodyBytes: 2000})
	agg.Write(&record.Exchange{Comm: "grpcsrv", Side: record.Server, Method: "POST", Path: "/pkg.S/Get", Proto: "HTTP/2", Authority: "api:50051",
		Status: 200, Server: "127.0.0.1:50051", RequestStartNs: 1, ResponseEndNs: 2, GRPCService: "pkg.S", GRPCMethod: "Get",
		GRPCStatus: 5, GRPCStatusSet: true, ContainerID: "3f1d8a6e2b9c", ContainerName: "web"})
	sink := &metricSink{}
	m, err := NewMetrics(MetricOptions{Agg: agg, Interval: time.Hour, Log: quiet(), exporter: sink,
		Counters: func() []aggregate.Counter { return []aggregate.Counter{{Name: "events_lost", Help: "lost", Value: 7}} }})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(time.Second); err != nil {
		t.Fatal(err)
	}
	if !sink.shutdown {
		t.Error("the exporter was not shut down")
	}
	ex := sink.exports()
	if len(ex) != 1 || len(ex[0]) != 4 {
		t.Fatalf("%d exports (want the one Close makes) of %v resources, want curl's, grpcsrv's, nginx's and httptrace's", len(ex), ex)
	}
	if st := m.Stats(); st.Exports != 1 || st.Failed != 0 || st.LastFailed {
		t.Errorf("stats %+v, want 1 export", st)
	}
	dur, ok := metric(ex[0], "nginx", "http.server.request.duration")
	if !ok || dur.Unit != "s" {
		t.Fatalf("nginx's duration: %+v", dur)
	}
	h := dur.Data.(metricdata.Histogram[float64])
	if h.Temporality != metricdata.CumulativeTemporality || len(h.DataPoints) != 2 {
		t.Fatalf("nginx's duration: %+v, want 2 series, cumulative", h)
	}
	want := attribute.NewSet(attribute.String("http.request.method", "GET"), attribute.Int("http.response.status_code", 200),
		attribute.String("http.route", "/users/{id}"), attribute.String("url.scheme", "http"), attribute.String("server.address", "127.0.0.1"),
		attribute.Int("server.port", 8080), attribute.String("network.protocol.version", "1.1"))
	found := false
	for _, p := range h.DataPoints {
		code, _ := p.Attributes.Value("http.response.status_code")
		if et, _ := p.Attributes.Value("error.type"); (code.AsInt64() == 503) != (et.AsString() == "503") {
			t.Errorf("a series with status %d has error.type %q (want 503's alone)", code.AsInt64(), et.AsString())
		}
		if p.Attributes.Equals(&want) {
			found = true
			// Per-bucket counts (OTLP's), not cumulative ones (Prometheus's).
			var sum uint64
			for _, n := range p.BucketCounts {
				sum += n
			}
			if p.Count != 3 || p.BucketCounts[0] != 2 || p.BucketCounts[7] != 1 || sum != p.Count ||
				len(p.BucketCounts) != len(aggregate.DurationBounds)+1 || p.StartTime.IsZero() || p.Time.Before(p.StartTime) ||
				p.Sum < 0.304 || p.Sum > 0.3041 {
				t.Errorf("the 200s: %+v", p)
			}
		}
	}
	if !found {
		t.Errorf("no series %v in %+v", want.Encoded(attribute.DefaultEncoder()), h.DataPoints)
	}
	if b, ok := metric(ex[0], "nginx", "http.server.response.body.size"); !ok || b.Unit != "By" {
		t.Errorf("nginx's response body size: %+v", b)
	}
	if _, ok := metric(ex[0], "nginx", "http.client.request.duration"); ok {
		t.Error("nginx, a server, has a client metric")
	}
	cb, _ := metric(ex[0], "curl", "http.client.request.body.size")
	if ps := cb.Data.(metricdata.Histogram[float64]).DataPoints; len(ps) != 1 || ps[0].Sum != 2000 {
		t.Errorf("curl's request body size: %+v", ps)
	} else if v, _ := ps[0].Attributes.Value("server.address"); v.AsString() != "api.example.com" {
		t.Errorf("curl's server.address %q, want the Host header's", v.AsString())
	}
	g, _ := metric(ex[0], "grpcsrv", "http.server.request.duration")
	if ps := g.Data.(metricdata.Histogram[float64]).DataPoints; len(ps) != 1 {
		t.Errorf("grpcsrv's duration: %+v", ps)
	} else {
		code, _ := ps[0].Attributes.Value("rpc.grpc.status_code")
		id, _ := ps[0].Attributes.Value("container.id")
		if code.AsInt64() != 5 || id.AsString() != "3f1d8a6e2b9c" {
			t.Errorf("grpcsrv's attributes %v", ps[0].Attributes.Encoded(attribute.DefaultEncoder()))
		}
	}
	for name, v := range map[string]int64{"httptrace.exchanges": 6, "httptrace.events_lost": 7, "httptrace.route_overflow": 0,
		"httptrace.export_metrics": 0, "httptrace.export_metrics_failed": 0} {
		c, ok := metric(ex[0], SelfService, name)
		if !ok {
			t.Errorf("no %s", name)
			continue
		}
		if s := c.Data.(metricdata.Sum[int64]); !s.IsMonotonic || s.DataPoints[0].Value != v || c.Unit != "{count}" {
			t.Errorf("%s (unit %q): %+v, want monotonic, %d", name, c.Unit, s, v)
		}
	}
	// A unit in braces: the collector's Prometheus exporter adds no
	// suffix ("1" would make it httptrace_series_ratio).
	if s, ok := metric(ex[0], SelfService, "httptrace.series"); !ok || s.Unit != "{series}" ||
		s.Data.(metricdata.Gauge[int64]).DataPoints[0].Value != 4 {
		t.Errorf("httptrace.series: %+v, want 4 {series}", s)
	}
	for _, rm := range ex[0] {
		if v, ok := rm.Resource.Set().Value("service.instance.id"); !ok || v.AsString() == "" {
			t.Errorf("resource %v has no service.instance.id", rm.Resource)
		}
	}
}

// TestMetricsInterval: OTEL_METRIC_EXPORT_INTERVAL sets the time between
// exports, in milliseconds; a value that is not one is warned of.
func TestMetricsInterval(t *testing.T) {
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "20")
	sink := &metricSink{}
	m, err := NewMetrics(MetricOptions{Agg: aggregate.New(aggregate.Options{}), Log: quiet(), exporter: sink})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(sink.exports()) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	m.Close(time.Second)
	if n := len(sink.exports()); n < 3 {
		t.Errorf("%d exports in 5s every 20ms", n)
	}
	var buf bytes.Buffer
	log := logrus.New()
	log.SetOutput(&buf)
	t.Setenv("OTEL_METRIC_EXPORT_INTERVAL", "1m")
	if d := millisVar("OTEL_METRIC_EXPORT_INTERVAL", DefaultMetricInterval, log); d != DefaultMetricInterval || !strings.Contains(buf.String(), "OTEL_METRIC_EXPORT_INTERVAL=1m") {
		t.Errorf("interval %v, log %q: want the default and a warning naming the value", d, buf.String())
	}
}

// TestMetricsFailures: a failed export is counted and warned of once a
// minute at most, and the next one carries the totals; Close bounds an
// export that hangs.
func TestMetricsFailures(t *testing.T) {
	var buf bytes.Buffer
	log := logrus.New()
	log.SetOutput(&buf)
	agg := aggregate.New(aggregate.Options{})
	sink := &metricSink{fail: true}
	m, err := NewMetrics(MetricOptions{Agg: agg, Interval: time.Hour, Log: log, exporter: sink})
	if err != nil {
		t.Fatal(err)
	}
	m.export(context.Background())
	m.export(context.Background())
	if st := m.Stats(); st.Failed != 2 || !st.LastFailed || strings.Count(buf.String(), "metrics not sent") != 1 {
		t.Errorf("stats %+v, log %q: want 2 failures, one warning", st, buf.String())
	}
	agg.Write(&record.Exchange{Comm: "nginx", Side: record.Server, Method: "GET", Path: "/", Proto: "HTTP/1.1",
		Status: 200, Server: "127.0.0.1:8080", RequestStartNs: 1, ResponseEndNs: 2})
	sink.mu.Lock()
	sink.fail = false
	sink.mu.Unlock()
	m.export(context.Background())
	if st := m.Stats(); st.Exports != 1 || st.LastFailed {
		t.Errorf("stats %+v after a success", st)
	}
	if d, ok := metric(sink.exports()[0], "nginx", "http.server.request.duration"); !ok ||
		d.Data.(metricdata.Histogram[float64]).DataPoints[0].Count != 1 {
		t.Errorf("the export after the failures lacks the exchange: %+v", d)
	}
	sink.mu.Lock()
	sink.block = true
	sink.mu.Unlock()
	begin := time.Now()
	m.Close(200 * time.Millisecond)
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("Close took %v with a timeout of 200ms", d)
	}
	if st := m.Stats(); !st.LastFailed {
		t.Errorf("stats %+v: the export Close abandoned is not counted failed", st)
	}
}

// TestMetricsSeriesRestart: a series that expired (metrics.ttl) and comes
// back starts again from zero, and says so with a new start time.
func TestMetricsSeriesRestart(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	agg := aggregate.New(aggregate.Options{TTL: time.Minute, Now: func() time.Time { return now }})
	write := func() {
		agg.Write(&record.Exchange{Comm: "nginx", Side: record.Server, Method: "GET", Path: "/", Proto: "HTTP/1.1",
			Status: 200, Server: "127.0.0.1:8080", RequestStartNs: 1, ResponseEndNs: 2})
	}
	m, err := NewMetrics(MetricOptions{Agg: agg, Interval: time.Hour, Log: quiet(), exporter: &metricSink{}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(time.Second)
	point := func() (metricdata.HistogramDataPoint[float64], bool) {
		d, ok := metric(m.build(now), "nginx", "http.server.request.duration")
		if !ok {
			return metricdata.HistogramDataPoint[float64]{}, false
		}
		return d.Data.(metricdata.Histogram[float64]).DataPoints[0], true
	}
	write()
	write()
	first, ok := point()
	if !ok || first.Count != 2 || !first.StartTime.Equal(now) {
		t.Fatalf("first: %+v (present %v), want 2 since %v", first, ok, now)
	}
	now = now.Add(2 * time.Minute)
	if p, ok := point(); ok {
		t.Fatalf("the series outlived its TTL: %+v", p)
	}
	write()
	again, ok := point()
	if !ok || again.Count != 1 || !again.StartTime.Equal(now) {
		t.Errorf("after the restart: %+v (present %v), want 1 since %v", again, ok, now)
	}
}

// TestMetricsCloseDuringExport: Close with the worker's export hanging
// ends within its timeout, the export counted failed.
func TestMetricsCloseDuringExport(t *testing.T) {
	sink := &metricSink{block: true}
	m, err := NewMetrics(MetricOptions{Agg: aggregate.New(aggregate.Options{}), Interval: 10 * time.Millisecond, Log: quiet(), exporter: sink})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		sink.mu.Lock()
		calls := sink.calls
		sink.mu.Unlock()
		if calls > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no export began in 5s")
		}
	}
	begin := time.Now()
	if err := m.Close(200 * time.Millisecond); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("Close took %v with a timeout of 200ms", d)
	}
	if st := m.Stats(); st.Failed == 0 || !st.LastFailed {
		t.Errorf("stats %+v: the export Close abandoned is not counted failed", st)
	}
	if err := m.Close(time.Second); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}

// otlpReceiver is an HTTP server answering OTLP metric exports with
// status (and a partial success when rejected is set), keeping the paths.
type otlpReceiver struct {
	*httptest.Server
	mu       sync.Mutex
	paths    []string
	status   int
	rejected int64
}

func newOTLPReceiver(t *testing.T, status int) *otlpReceiver {
	r := &otlpReceiver{status: status}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		io.Copy(io.Discard, req.Body)
		r.mu.Lock()
		r.paths = append(r.paths, req.URL.Path)
		st, rej := r.status, r.rejected
		r.mu.Unlock()
		if st != http.StatusOK {
			http.Error(w, "no such receiver", st)
			return
		}
		resp := &colmetricpb.ExportMetricsServiceResponse{}
		if rej > 0 {
			resp.PartialSuccess = &colmetricpb.ExportMetricsPartialSuccess{RejectedDataPoints: rej, ErrorMessage: "over the limit"}
		}
		b, _ := proto.Marshal(resp)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(b)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *otlpReceiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.paths)
}

// TestMetricsEndpoints exports with the SDK's http/protobuf exporter to a
// receiver: the configured base URL gets /v1/metrics after its path, so
// does OTEL_EXPORTER_OTLP_ENDPOINT, and OTEL_EXPORTER_OTLP_METRICS_ENDPOINT
// is used as it is. A partial success is an export; a 404 (a backend that
// takes spans only) ends the export with one warning.
func TestMetricsEndpoints(t *testing.T) {
	for _, v := range []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
		"OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS"} {
		t.Setenv(v, "")
	}
	agg := aggregate.New(aggregate.Options{})
	run := func(endpoint string, log logrus.FieldLogger, exports int) *MetricExporter {
		t.Helper()
		m, err := NewMetrics(MetricOptions{Endpoint: endpoint, Protocol: ProtocolHTTP, Agg: agg, Interval: time.Hour, Log: log})
		if err != nil {
			t.Fatal(err)
		}
		for range exports {
			m.export(context.Background())
		}
		if err := m.Close(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		return m
	}
	r := newOTLPReceiver(t, http.StatusOK)
	run(r.URL+"/base/", quiet(), 0)
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", r.URL+"/custom")
	run("", quiet(), 0)
	t.Setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", r.URL)
	run("", quiet(), 0)
	// One request per resource (httptrace's own only: no exchanges).
	if got, want := r.got(), []string{"/base/v1/metrics", "/custom", "/v1/metrics"}; !slices.Equal(got, want) {
		t.Errorf("paths %v, want %v", got, want)
	}
	r.mu.Lock()
	r.rejected = 3
	r.mu.Unlock()
	if st := run(r.URL, quiet(), 1).Stats(); st.Exports != 2 || st.Failed != 0 || st.LastFailed {
		t.Errorf("with a partial success: %+v, want 2 exports", st)
	}

	gone := newOTLPReceiver(t, http.StatusNotFound)
	var buf bytes.Buffer
	log := logrus.New()
	log.SetOutput(&buf)
	st := run(gone.URL, log, 2).Stats()
	if !st.Unserved || st.LastFailed || st.Exports != 0 || len(gone.got()) != 1 || strings.Count(buf.String(), "serves no metrics") != 1 {
		t.Errorf("a 404: %+v, %d requests, log %q; want unserved after one request, one warning", st, len(gone.got()), buf.String())
	}
}
