package otlp

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/httptrace/httptrace/pkg/output"
	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/route"
)

func quiet() logrus.FieldLogger {
	l := logrus.New()
	l.SetLevel(logrus.ErrorLevel)
	return l
}

// export writes exchanges to an Exporter over an in-memory exporter and
// returns the spans it ended with.
func export(t *testing.T, es ...*record.Exchange) tracetest.SpanStubs {
	t.Helper()
	router, err := route.NewRouter([]string{"/users/{id}"})
	if err != nil {
		t.Fatal(err)
	}
	k := &keep{}
	x, err := New(Options{Router: router, Clock: output.NewClock(0), Log: quiet(), exporter: k})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if err := x.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.Close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	got := k.spans
	if st := x.Stats(); st.Exported != uint64(len(got)) || st.Dropped != 0 {
		t.Errorf("stats %+v, want %d exported and none dropped", st, len(got))
	}
	return got
}

// keep is an exporter that keeps what it was given.
type keep struct {
	mu    sync.Mutex
	spans tracetest.SpanStubs
}

func (k *keep) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.spans = append(k.spans, tracetest.SpanStubsFromReadOnlySpans(spans)...)
	return nil
}
func (k *keep) Shutdown(context.Context) error { return nil }

func attrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// TestServerSpan: a server exchange is one SERVER span named by its route,
// from the request's first byte to the response's last, with the
// conventions' attributes, a child of the span its traceparent names.
func TestServerSpan(t *testing.T) {
	e := &record.Exchange{PID: 7, Comm: "nginx", Side: record.Server, Client: "10.0.0.9:51000", Server: "10.0.0.1:8080",
		Method: "GET", Path: "/users/42?token=[REDACTED]", Proto: "HTTP/1.1",
		Headers: []record.Header{{Name: "Host", Value: "Shop.example:8080"}, {Name: "User-Agent", Value: "curl/8.0"},
			{Name: "traceparent", Value: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}},
		RequestStartNs: 1_000_000_000, RequestEndNs: 1_000_100_000, ResponseStartNs: 1_002_000_000, ResponseEndNs: 1_003_000_000,
		Status: 200, RequestBodyBytes: 0, ResponseBodyBytes: 512}
	got := export(t, e)
	if len(got) != 1 {
		t.Fatalf("%d spans, want 1", len(got))
	}
	s := got[0]
	if s.Name != "GET /users/{id}" || s.SpanKind != trace.SpanKindServer {
		t.Errorf("span %q kind %v, want \"GET /users/{id}\" server", s.Name, s.SpanKind)
	}
	if d := s.EndTime.Sub(s.StartTime); d != 3*time.Millisecond {
		t.Errorf("span lasts %v, want 3ms (first request byte to last response byte)", d)
	}
	if s.Parent.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent.SpanID().String() != "00f067aa0ba902b7" ||
		!s.Parent.IsRemote() || s.SpanContext.TraceID() != s.Parent.TraceID() {
		t.Errorf("parent %v, span %v: want a child of the traceparent's span in its trace", s.Parent, s.SpanContext)
	}
	want := map[attribute.Key]attribute.Value{
		"http.request.method":       attribute.StringValue("GET"),
		"url.path":                  attribute.StringValue("/users/42"),
		"url.query":                 attribute.StringValue("token=[REDACTED]"),
		"http.route":                attribute.StringValue("/users/{id}"),
		"http.response.status_code": attribute.IntValue(200),
		"server.address":            attribute.StringValue("shop.example"),
		"server.port":               attribute.IntValue(8080),
		"client.address":            attribute.StringValue("10.0.0.9"),
		"client.port":               attribute.IntValue(51000),
		"network.protocol.version":  attribute.StringValue("1.1"),
		"user_agent.original":       attribute.StringValue("curl/8.0"),
		"http.request.body.size":    attribute.Int64Value(0),
		"http.response.body.size":   attribute.Int64Value(512),
		"url.scheme":                attribute.StringValue("http"),
	}
	have := attrs(s)
	for k, v := range want {
		if have[k] != v {
			t.Errorf("%s = %v, want %v", k, have[k].Emit(), v.Emit())
		}
	}
	if s.Status.Code != codes.Unset {
		t.Errorf("status %v, want unset", s.Status)
	}
	if svc, ok := s.Resource.Set().Value("service.name"); !ok || svc.AsString() != "nginx" {
		t.Errorf("service.name %v, want nginx (the comm)", svc.Emit())
	}
}

// TestSpanStatus: Error for 5xx on the server side, 4xx and 5xx on the
// client side, and a request with no answer; Unset otherwise. No
// traceparent: a root span.
func TestSpanStatus(t *testing.T) {
	ex := func(side record.Side, status int, incomplete bool) *record.Exchange {
		return &record.Exchange{Comm: "app", Side: side, Method: "POST", Path: "/x", Proto: "HTTP/1.1", Server: "127.0.0.1:80",
			Client: "127.0.0.1:5000", Status: status, Incomplete: incomplete, RequestStartNs: 10, RequestEndNs: 20, ResponseEndNs: 30}
	}
	cases := []struct {
		e    *record.Exchange
		want codes.Code
		kind trace.SpanKind
	}{
		{ex(record.Server, 503, false), codes.Error, trace.SpanKindServer},
		{ex(record.Server, 404, false), codes.Unset, trace.SpanKindServer},
		{ex(record.Client, 404, false), codes.Error, trace.SpanKindClient},
		{ex(record.Client, 302, false), codes.Unset, trace.SpanKindClient},
		{ex(record.Server, 0, true), codes.Error, trace.SpanKindServer},
	}
	var es []*record.Exchange
	for _, c := range cases {
		es = append(es, c.e)
	}
	got := export(t, es...)
	if len(got) != len(cases) {
		t.Fatalf("%d spans, want %d", len(got), len(cases))
	}
	for i, c := range cases {
		s := got[i]
		if s.Status.Code != c.want || s.SpanKind != c.kind || s.Parent.IsValid() {
			t.Errorf("%s %d (incomplete %v): status %v kind %v parent %v, want %v %v and no parent",
				c.e.Side, c.e.Status, c.e.Incomplete, s.Status.Code, s.SpanKind, s.Parent, c.want, c.kind)
		}
	}
}

// blocked is an exporter that takes nothing until released, then refuses
// every other batch.
type blocked struct {
	release chan struct{}
	mu      sync.Mutex
	n       int
	took    int
}

func (b *blocked) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	<-b.release
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n++
	if b.n%2 == 0 {
		return errors.New("refused")
	}
	b.took += len(spans)
	return nil
}
func (b *blocked) Shutdown(context.Context) error { return nil }

// TestDropsCounted: a backend that holds up export fills the queue; Write
// never blocks, and every span is either exported or counted as dropped,
// whether the queue was full or the backend refused it.
func TestDropsCounted(t *testing.T) {
	b := &blocked{release: make(chan struct{})}
	x, err := New(Options{Clock: output.NewClock(0), Queue: 16, Log: quiet(), exporter: b})
	if err != nil {
		t.Fatal(err)
	}
	const n = 10000
	e := &record.Exchange{Comm: "app", Side: record.Server, Method: "GET", Path: "/", Status: 200, RequestStartNs: 1, ResponseEndNs: 2}
	begin := time.Now()
	for range n {
		if err := x.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("%d writes took %v: Write waited for the backend", n, d)
	}
	if st := x.Stats(); st.Dropped == 0 {
		t.Errorf("stats %+v with the backend held up: want drops", st)
	}
	close(b.release)
	if err := x.Close(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	st := x.Stats()
	if st.Exported+st.Dropped != n || st.Exported != uint64(b.took) {
		t.Errorf("stats %+v, backend took %d: want exported (the backend's count) + dropped = %d", st, b.took, n)
	}
}
