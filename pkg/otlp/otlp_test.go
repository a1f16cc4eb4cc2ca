package otlp

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sirupsen/logrus"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/output"
	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/route"
)

func quiet() logrus.FieldLogger {
	l := logrus.New()
	l.SetLevel(logrus.ErrorLevel)
	return l
}

// sent is a span as a client was given it, with its service.
type sent struct {
	service string
	span    *tracepb.Span
}

// client is an OTLP client that keeps what it is given, or (hold) takes
// nothing until released and then refuses every other batch.
type client struct {
	mu      sync.Mutex
	spans   []sent
	hold    chan struct{}
	uploads int
	stopped bool
	reply   error // returned for every upload taken (a partial success)
	err     error // the first batch that did not decode
}

// decodeSpans is what a backend reads of ss: its spans, once marshalled
// and unmarshalled; a field it does not know, in a span, its status or
// an attribute, is an error.
func decodeSpans(ss *tracepb.ScopeSpans) ([]*tracepb.Span, error) {
	raw, err := proto.Marshal(ss)
	if err != nil {
		return nil, err
	}
	var got tracepb.ScopeSpans
	if err := proto.Unmarshal(raw, &got); err != nil {
		return nil, err
	}
	if u := got.ProtoReflect().GetUnknown(); len(u) > 0 {
		return nil, fmt.Errorf("scope spans: unknown fields %x", u)
	}
	for _, s := range got.Spans {
		unknown := len(s.ProtoReflect().GetUnknown())
		if s.Status != nil {
			unknown += len(s.Status.ProtoReflect().GetUnknown())
		}
		for _, kv := range s.Attributes {
			unknown += len(kv.ProtoReflect().GetUnknown()) + len(kv.Value.ProtoReflect().GetUnknown())
		}
		if unknown > 0 {
			return nil, fmt.Errorf("span %q: %d bytes of unknown fields", s.Name, unknown)
		}
	}
	return got.Spans, nil
}

func (c *client) Start(context.Context) error { return nil }
func (c *client) Stop(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	return nil
}

func (c *client) UploadTraces(ctx context.Context, rs []*tracepb.ResourceSpans) error {
	if c.hold != nil {
		select {
		case <-c.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.uploads++
	if c.hold != nil && c.uploads%2 == 0 {
		return errors.New("refused")
	}
	for _, r := range rs {
		svc := ""
		for _, kv := range r.Resource.Attributes {
			if kv.Key == "service.name" {
				svc = kv.Value.GetStringValue()
			}
		}
		for _, ss := range r.ScopeSpans {
			spans, err := decodeSpans(ss)
			if err != nil && c.err == nil {
				c.err = err
			}
			for _, s := range spans {
				c.spans = append(c.spans, sent{svc, s})
			}
		}
	}
	return c.reply
}

// export writes exchanges to an Exporter over a keeping client and
// returns the spans it sent.
func export(t *testing.T, es ...*record.Exchange) []sent {
	t.Helper()
	router, err := route.NewRouter([]string{"/users/{id}"})
	if err != nil {
		t.Fatal(err)
	}
	c := &client{}
	x, err := New(Options{Router: router, Clock: output.NewClock(0), Log: quiet(), client: c})
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
	if c.err != nil {
		t.Fatal(c.err)
	}
	if st := x.Stats(); st.Exported != uint64(len(c.spans)) || st.Dropped != 0 || !c.stopped {
		t.Errorf("stats %+v, client stopped %v: want %d exported, none dropped, the client stopped", st, c.stopped, len(c.spans))
	}
	return c.spans
}

// attrs are a span's attributes as text.
func attrMap(s *tracepb.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range s.Attributes {
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = v.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = fmt.Sprint(v.IntValue)
		case *commonpb.AnyValue_BoolValue:
			m[kv.Key] = fmt.Sprint(v.BoolValue)
		}
	}
	return m
}

// plain is an exchange with nothing to say but its status.
var plain = &record.Exchange{Comm: "app", Side: record.Server, Method: "GET", Path: "/", Status: 200, RequestStartNs: 1, ResponseEndNs: 2}

// writeTo starts an Exporter over c with a queue of queue (0: the
// default) and writes n plain exchanges to it.
func writeTo(t *testing.T, c *client, queue, n int) *Exporter {
	t.Helper()
	x, err := New(Options{Clock: output.NewClock(0), Queue: queue, Log: quiet(), client: c})
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := x.Write(plain); err != nil {
			t.Fatal(err)
		}
	}
	return x
}

// TestServerSpan: a server exchange is one SERVER span named by its route,
// from the request's first byte to the response's last, with the
// conventions' attributes, a child of the span its traceparent names.
func TestServerSpan(t *testing.T) {
	e := &record.Exchange{PID: 7, Comm: "nginx", Side: record.Server, Client: "10.0.0.9:51000", Server: "10.0.0.1:8080",
		Method: "GET", Path: "/users/42?token=[REDACTED]", Proto: "HTTP/1.1",
		Headers: []record.Header{{Name: "Host", Value: "Shop.example:8080"}, {Name: "User-Agent", Value: "curl/8.0"},
			{Name: "traceparent", Value: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, {Name: "tracestate", Value: "k=v"}},
		RequestStartNs: 1_000_000_000, RequestEndNs: 1_000_100_000, ResponseStartNs: 1_002_000_000, ResponseEndNs: 1_003_000_000,
		Status: 200, RequestBodyBytes: 0, ResponseBodyBytes: 512}
	got := export(t, e)
	if len(got) != 1 {
		t.Fatalf("%d spans, want 1", len(got))
	}
	s := got[0].span
	if s.Name != "GET /users/{id}" || s.Kind != tracepb.Span_SPAN_KIND_SERVER || got[0].service != "nginx" {
		t.Errorf("span %q kind %v service %q, want \"GET /users/{id}\" server nginx (the comm)", s.Name, s.Kind, got[0].service)
	}
	if d := s.EndTimeUnixNano - s.StartTimeUnixNano; d != 3_000_000 {
		t.Errorf("span lasts %dns, want 3ms (first request byte to last response byte)", d)
	}
	if hex.EncodeToString(s.TraceId) != "4bf92f3577b34da6a3ce929d0e0e4736" || hex.EncodeToString(s.ParentSpanId) != "00f067aa0ba902b7" ||
		s.TraceState != "k=v" || len(s.SpanId) != 8 || s.Flags != 0x301 {
		t.Errorf("trace %x parent %x state %q span %x flags %#x: want a child of the traceparent's span in its trace, its state kept",
			s.TraceId, s.ParentSpanId, s.TraceState, s.SpanId, s.Flags)
	}
	want := map[string]string{
		"http.request.method":       "GET",
		"url.path":                  "/users/42",
		"url.query":                 "token=[REDACTED]",
		"http.route":                "/users/{id}",
		"http.response.status_code": "200",
		"server.address":            "shop.example",
		"server.port":               "8080",
		"client.address":            "10.0.0.9",
		"client.port":               "51000",
		"network.protocol.version":  "1.1",
		"user_agent.original":       "curl/8.0",
		"http.request.body.size":    "0",
		"http.response.body.size":   "512",
		"url.scheme":                "http",
		"process.pid":               "7",
	}
	have := attrMap(s)
	for k, v := range want {
		if have[k] != v {
			t.Errorf("%s = %q, want %q", k, have[k], v)
		}
	}
	if s.Status != nil {
		t.Errorf("status %v, want unset", s.Status)
	}
}

// TestSpanStatus: Error for 5xx on the server side, 4xx and 5xx on the
// client side, and a request with no answer; Unset otherwise. No
// traceparent: a root span of a trace of its own.
func TestSpanStatus(t *testing.T) {
	ex := func(side record.Side, status int, incomplete bool) *record.Exchange {
		return &record.Exchange{Comm: "app", Side: side, Method: "POST", Path: "/x", Proto: "HTTP/1.1", Server: "[::1]:80",
			Client: "[::1]:5000", Status: status, Incomplete: incomplete, RequestStartNs: 10, RequestEndNs: 20, ResponseEndNs: 30}
	}
	cases := []struct {
		e    *record.Exchange
		want tracepb.Status_StatusCode
		kind tracepb.Span_SpanKind
	}{
		{ex(record.Server, 503, false), tracepb.Status_STATUS_CODE_ERROR, tracepb.Span_SPAN_KIND_SERVER},
		{ex(record.Server, 404, false), tracepb.Status_STATUS_CODE_UNSET, tracepb.Span_SPAN_KIND_SERVER},
		{ex(record.Client, 404, false), tracepb.Status_STATUS_CODE_ERROR, tracepb.Span_SPAN_KIND_CLIENT},
		{ex(record.Client, 302, false), tracepb.Status_STATUS_CODE_UNSET, tracepb.Span_SPAN_KIND_CLIENT},
		{ex(record.Server, 0, true), tracepb.Status_STATUS_CODE_ERROR, tracepb.Span_SPAN_KIND_SERVER},
	}
	var es []*record.Exchange
	for _, c := range cases {
		es = append(es, c.e)
	}
	got := export(t, es...)
	if len(got) != len(cases) {
		t.Fatalf("%d spans, want %d", len(got), len(cases))
	}
	traces := map[string]bool{}
	for i, c := range cases {
		s := got[i].span
		if s.Status.GetCode() != c.want || s.Kind != c.kind || len(s.ParentSpanId) != 0 || len(s.TraceId) != 16 {
			t.Errorf("%s %d (incomplete %v): status %v kind %v parent %x, want %v %v and no parent",
				c.e.Side, c.e.Status, c.e.Incomplete, s.Status.GetCode(), s.Kind, s.ParentSpanId, c.want, c.kind)
		}
		traces[hex.EncodeToString(s.TraceId)] = true
		if a := attrMap(s); a["client.address"] != "::1" || a["client.port"] != "5000" {
			t.Errorf("client %q port %q, want ::1 and 5000", a["client.address"], a["client.port"])
		}
	}
	if len(traces) != len(cases) {
		t.Errorf("%d traces for %d root spans", len(traces), len(cases))
	}
}

// TestDropsCounted: a backend that holds up export fills the queue; Write
// never blocks, and every span is either exported or counted as dropped,
// whether the queue was full or the backend refused it.
func TestDropsCounted(t *testing.T) {
	c := &client{hold: make(chan struct{})}
	const n = 10000
	begin := time.Now()
	x := writeTo(t, c, 16, n)
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("%d writes took %v: Write waited for the backend", n, d)
	}
	if st := x.Stats(); st.Dropped == 0 {
		t.Errorf("stats %+v with the backend held up: want drops", st)
	}
	close(c.hold)
	if err := x.Close(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	st := x.Stats()
	if st.Exported+st.Dropped != n || st.Exported != uint64(len(c.spans)) || st.Exported == 0 {
		t.Errorf("stats %+v, backend took %d: want exported (the backend's count, some) + dropped = %d", st, len(c.spans), n)
	}
}

// TestCloseTimeout: a backend that never answers holds Close no longer
// than its timeout, and what it held is counted as dropped.
func TestCloseTimeout(t *testing.T) {
	x := writeTo(t, &client{hold: make(chan struct{})}, 0, 3) // never released
	begin := time.Now()
	if err := x.Close(300 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("Close took %v with a timeout of 300ms", d)
	}
	if st := x.Stats(); st.Exported != 0 || st.Dropped != 3 {
		t.Errorf("stats %+v, want 3 dropped", st)
	}
}

// TestMergeHeaders: the configured headers add to the variables', and win;
// a signal's variable applies to that signal.
func TestMergeHeaders(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "api-key=from%20env, tenant=a,bad")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "tenant=b")
	got := mergeHeaders(config.SignalTraces, map[string]string{"api-key": "yaml"})
	if len(got) != 2 || got["api-key"] != "yaml" || got["tenant"] != "b" {
		t.Errorf("headers %v, want api-key from the file, tenant from the traces' variable", got)
	}
	if got := mergeHeaders(config.SignalTraces, map[string]string{"x": "1"}); got["api-key"] != "from env" {
		t.Errorf("headers %v: the variables' are lost", got)
	}
	if got := mergeHeaders(config.SignalMetrics, nil); got["tenant"] != "a" {
		t.Errorf("metrics' headers %v: the traces' variable applies to traces only", got)
	}
}

// TestSpanKinds: a gRPC call's status decides its span's (a server's own
// faults only, on the server side); a client span has its url.full; a
// unix socket's peer is no address and port; a response with no request
// has the method _OTHER.
func TestSpanKinds(t *testing.T) {
	grpc := func(side record.Side, code int) *record.Exchange {
		return &record.Exchange{Comm: "svc", Side: side, Method: "POST", Path: "/pkg.Svc/Get", Proto: "HTTP/2", Authority: "svc:50051",
			Server: "10.0.0.2:50051", Client: "10.0.0.1:40000", Status: 200, GRPCService: "pkg.Svc", GRPCMethod: "Get",
			GRPCStatus: code, GRPCStatusSet: true, GRPCMessage: "boom", RequestStartNs: 1, ResponseEndNs: 2}
	}
	client := &record.Exchange{Comm: "app", Side: record.Client, Method: "GET", Path: "/a?b=1", Proto: "HTTP/1.1",
		Headers: []record.Header{{Name: "Host", Value: "api.example:8080"}}, Server: "10.0.0.3:8080", Client: "10.0.0.1:40001",
		Status: 200, RequestStartNs: 1, ResponseEndNs: 2}
	unix := &record.Exchange{Comm: "app", Side: record.Server, Method: "GET", Path: "/", Proto: "HTTP/1.1",
		Server: "unix:/run/app.sock", Client: "unix:@pid:42", Status: 200, RequestStartNs: 1, ResponseEndNs: 2}
	orphan := &record.Exchange{Comm: "app", Side: record.Server, Server: "10.0.0.2:80", Client: "10.0.0.1:40002", Status: 200,
		Unmatched: true, ResponseStartNs: 1, ResponseEndNs: 2}
	got := export(t, grpc(record.Server, 5), grpc(record.Server, 13), grpc(record.Client, 5), client, unix, orphan)
	if len(got) != 6 {
		t.Fatalf("%d spans, want 6", len(got))
	}
	want := []struct {
		code    tracepb.Status_StatusCode
		errType string
	}{{tracepb.Status_STATUS_CODE_UNSET, ""}, {tracepb.Status_STATUS_CODE_ERROR, "INTERNAL"}, {tracepb.Status_STATUS_CODE_ERROR, "NOT_FOUND"}}
	for i, w := range want {
		a := attrMap(got[i].span)
		if got[i].span.Status.GetCode() != w.code || a["error.type"] != w.errType || a["rpc.grpc.status_code"] == "" || a["rpc.service"] != "pkg.Svc" {
			t.Errorf("gRPC span %d: status %v error.type %q attributes %v, want %v %q", i, got[i].span.Status.GetCode(), a["error.type"], a, w.code, w.errType)
		}
	}
	if a := attrMap(got[3].span); a["url.full"] != "http://api.example:8080/a?b=1" {
		t.Errorf("client span's url.full %q", a["url.full"])
	}
	if a := attrMap(got[4].span); a["network.transport"] != "unix" || a["client.port"] != "" || a["client.address"] != "unix:@pid:42" {
		t.Errorf("unix socket span: %v", a)
	}
	if s := got[5].span; s.Name != "HTTP" || attrMap(s)["http.request.method"] != "_OTHER" {
		t.Errorf("orphan response span %q, method %q", s.Name, attrMap(s)["http.request.method"])
	}
}

// TestPartialSuccess: a backend that takes a batch but rejects some of
// its spans (the clients return that as an error) has the rest counted as
// exported, the rejected ones as dropped; any other error drops the batch.
func TestPartialSuccess(t *testing.T) {
	c := &client{reply: errors.Join(errors.New("OTLP partial success: too old\nsee docs (2 spans rejected)"))}
	x := writeTo(t, c, 0, 5)
	if err := x.Close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if st := x.Stats(); st.Exported != 3 || st.Dropped != 2 {
		t.Errorf("stats %+v, want 3 exported and 2 dropped", st)
	}
	for _, other := range []error{errors.New("connection refused"), errors.Join(errors.New("OTLP partial success: x (1 spans rejected)"), errors.New("timeout"))} {
		if _, ok := partialSuccess(other); ok {
			t.Errorf("%q taken for a partial success", other)
		}
	}
}

// TestServicesAndFlags: spans of many services, past MaxServices, keep
// their own service.name; a root span is flagged sampled, its parent not
// remote; spans with many attributes keep every value.
func TestServicesAndFlags(t *testing.T) {
	var es []*record.Exchange
	for i := range MaxServices + 6 {
		es = append(es, &record.Exchange{Comm: fmt.Sprintf("svc%d", i), Side: record.Server, Method: "GET", Path: "/",
			Status: 200, RequestStartNs: 1, ResponseEndNs: 2})
	}
	big := &record.Exchange{Comm: "big", Side: record.Client, Method: "GET", Path: "/a?q=1", Proto: "HTTP/1.1", Server: "10.0.0.2:8080",
		Client: "10.0.0.1:4000", Headers: []record.Header{{Name: "User-Agent", Value: "ua"}}, Status: 200, GRPCService: "s", GRPCMethod: "m",
		GRPCStatusSet: true, ContainerID: "c1", ContainerName: "web", PodUID: "p1", K8sPod: "web-0", K8sNamespace: "shop",
		Gap: true, Adopted: true, RequestStartNs: 1, ResponseEndNs: 2}
	got := export(t, append(es, big)...)
	if len(got) != len(es)+1 {
		t.Fatalf("%d spans, want %d", len(got), len(es)+1)
	}
	for i, g := range got[:len(es)] {
		if want := fmt.Sprintf("svc%d", i); g.service != want {
			t.Errorf("span %d under service %q, want %q", i, g.service, want)
		}
		if g.span.Flags != 0x101 {
			t.Errorf("root span flags %#x, want 0x101", g.span.Flags)
		}
	}
	a := attrMap(got[len(es)].span)
	for k, v := range map[string]string{"url.full": "http://10.0.0.2:8080/a?q=1", "user_agent.original": "ua", "rpc.method": "m",
		"container.name": "web", "k8s.pod.uid": "p1", "k8s.pod.name": "web-0", "k8s.namespace.name": "shop", "k8s.container.name": "web",
		"httptrace.gap": "true", "httptrace.adopted": "true", "process.executable.name": "big"} {
		if a[k] != v {
			t.Errorf("%s = %q, want %q (of %d attributes)", k, a[k], v, len(a))
		}
	}
}
