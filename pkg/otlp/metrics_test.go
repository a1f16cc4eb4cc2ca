package otlp

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

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
}

func (s *metricSink) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	s.mu.Lock()
	fail, block := s.fail, s.block
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
	for i, status := range []int{200, 200, 503} {
		agg.Write(&record.Exchange{Comm: "nginx", Side: record.Server, Method: "GET", Path: "/users/" + string(rune('1'+i)), Proto: "HTTP/1.1",
			Status: status, Server: "127.0.0.1:8080", RequestStartNs: 1, ResponseEndNs: 2_000_001, ResponseBodyBytes: 5})
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
		if p.Attributes.Equals(&want) {
			found = true
			if p.Count != 2 || p.BucketCounts[0] != 2 || len(p.BucketCounts) != len(aggregate.DurationBounds)+1 ||
				p.StartTime.IsZero() || p.Time.Before(p.StartTime) || p.Sum < 0.004 || p.Sum > 0.0041 {
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
	for name, v := range map[string]int64{"httptrace.exchanges": 5, "httptrace.events_lost": 7, "httptrace.route_overflow": 0} {
		c, ok := metric(ex[0], SelfService, name)
		if !ok {
			t.Errorf("no %s", name)
			continue
		}
		if s := c.Data.(metricdata.Sum[int64]); !s.IsMonotonic || s.DataPoints[0].Value != v {
			t.Errorf("%s: %+v, want monotonic, %d", name, s, v)
		}
	}
	if s, ok := metric(ex[0], SelfService, "httptrace.series"); !ok || s.Data.(metricdata.Gauge[int64]).DataPoints[0].Value != 4 {
		t.Errorf("httptrace.series: %+v, want 4", s)
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
	if d := metricInterval(log); d != DefaultMetricInterval || !strings.Contains(buf.String(), "OTEL_METRIC_EXPORT_INTERVAL=1m") {
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
