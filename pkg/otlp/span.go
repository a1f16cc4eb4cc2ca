// One exchange as one span: OpenTelemetry's HTTP semantic conventions.
package otlp

import (
	"context"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/httptrace/httptrace/pkg/aggregate"
	"github.com/httptrace/httptrace/pkg/record"
)

// span is what the worker needs of an exchange to start its span: its
// strings are the exchange's, copied (a sink may not keep the exchange).
type span struct {
	service    string
	name       string
	kind       trace.SpanKind
	start, end time.Time
	parent     trace.SpanContext // invalid: a root span
	attrs      []attribute.KeyValue
	status     codes.Code
	statusMsg  string
}

// traceContext reads a request's W3C trace context (traceparent and
// tracestate).
var traceContext propagation.TraceContext

// span makes an exchange's span.
func (x *Exporter) span(e *record.Exchange) span {
	s := span{service: strings.Clone(x.opts.Service(e)), kind: trace.SpanKindServer}
	if e.Side == record.Client {
		s.kind = trace.SpanKindClient
	}
	method := aggregate.Method(e.Method)
	path, query, _ := strings.Cut(e.Path, "?")
	routed := ""
	if e.Method != "" && x.opts.Router != nil {
		routed = x.opts.Router.Route(e.Path)
	}
	switch {
	case e.Method == "":
		s.name = "HTTP" // a response with no request
	case method == aggregate.Other:
		s.name = "HTTP"
		if routed != "" {
			s.name += " " + routed
		}
	case routed != "":
		s.name = method + " " + routed
	default:
		s.name = method
	}
	s.start, s.end = x.times(e)
	a := make([]attribute.KeyValue, 0, 20)
	if e.Method != "" {
		a = append(a, attribute.String("http.request.method", method))
		if method == aggregate.Other {
			a = append(a, attribute.String("http.request.method_original", strings.Clone(e.Method)))
		}
		a = append(a, attribute.String("url.path", strings.Clone(path)))
		if query != "" {
			a = append(a, attribute.String("url.query", strings.Clone(query)))
		}
		if routed != "" {
			a = append(a, attribute.String("http.route", routed))
		}
	}
	if e.Status != 0 {
		a = append(a, attribute.Int("http.response.status_code", e.Status))
	}
	host, port := aggregate.ServerOf(e)
	if host != "" {
		a = append(a, attribute.String("server.address", strings.Clone(host)))
	}
	if port != 0 {
		a = append(a, attribute.Int("server.port", port))
	}
	if client := e.Client; client != "" {
		if i := strings.LastIndexByte(client, ':'); i > 0 && !strings.HasSuffix(client, "]") {
			if p, err := strconv.Atoi(client[i+1:]); err == nil {
				a = append(a, attribute.Int("client.port", p))
				client = client[:i]
			}
		}
		a = append(a, attribute.String("client.address", strings.Trim(strings.Clone(client), "[]")))
	}
	scheme := "http"
	if e.TLS {
		scheme = "https"
	}
	a = append(a, attribute.String("url.scheme", scheme))
	if v := aggregate.ProtoVersion(e.Proto); v != "" {
		a = append(a, attribute.String("network.protocol.version", v))
	}
	if ua := header(e.Headers, "User-Agent"); ua != "" {
		a = append(a, attribute.String("user_agent.original", strings.Clone(ua)))
	}
	if e.Method != "" {
		a = append(a, attribute.Int64("http.request.body.size", int64(e.RequestBodyBytes)))
	}
	if e.Status != 0 {
		a = append(a, attribute.Int64("http.response.body.size", int64(e.ResponseBodyBytes)))
	}
	if e.GRPCService != "" {
		a = append(a, attribute.String("rpc.system", "grpc"), attribute.String("rpc.service", strings.Clone(e.GRPCService)),
			attribute.String("rpc.method", strings.Clone(e.GRPCMethod)))
		if e.GRPCStatusSet {
			a = append(a, attribute.Int("rpc.grpc.status_code", e.GRPCStatus))
		}
	}
	a = append(a, attribute.Int("process.pid", int(e.PID)), attribute.String("process.executable.name", strings.Clone(e.Comm)))
	if e.ContainerID != "" {
		a = append(a, attribute.String("container.id", strings.Clone(e.ContainerID)))
		if e.ContainerName != "" {
			a = append(a, attribute.String("container.name", strings.Clone(e.ContainerName)))
		}
		if e.PodUID != "" {
			a = append(a, attribute.String("k8s.pod.uid", strings.Clone(e.PodUID)))
		}
	}
	// What httptrace knows that the conventions have no name for.
	if e.Incomplete {
		a = append(a, attribute.Bool("httptrace.incomplete", true))
	}
	if e.Unmatched {
		a = append(a, attribute.Bool("httptrace.unmatched", true))
	}
	if e.Gap {
		a = append(a, attribute.Bool("httptrace.gap", true))
	}
	if e.Adopted {
		a = append(a, attribute.Bool("httptrace.adopted", true))
	}
	s.attrs = a
	s.status, s.statusMsg = status(e)
	if header(e.Headers, "traceparent") != "" {
		ctx := traceContext.Extract(context.Background(), headerCarrier(e.Headers))
		s.parent = trace.SpanContextFromContext(ctx)
	}
	return s
}

// times are the span's start and end in wall-clock time: the request's
// first byte and the response's last (the request's last when there is no
// response; the response's first when there is no request).
func (x *Exporter) times(e *record.Exchange) (time.Time, time.Time) {
	start, end := e.RequestStartNs, e.ResponseEndNs
	if start == 0 {
		start = e.ResponseStartNs
	}
	if end == 0 {
		end = max(e.RequestEndNs, e.ResponseStartNs)
	}
	if end < start {
		end = start
	}
	return x.opts.Clock.Wall(start), x.opts.Clock.Wall(end)
}

// status is the span's status as the conventions say: Error for a 5xx
// answer on the server side, for a 4xx or 5xx on the client side, and for
// a request that got no answer; otherwise Unset.
func status(e *record.Exchange) (codes.Code, string) {
	switch {
	case e.Incomplete:
		return codes.Error, "no response"
	case e.Status >= 500, e.Status >= 400 && e.Side == record.Client:
		return codes.Error, ""
	}
	return codes.Unset, ""
}

// start starts and ends s's span in its service's tracer.
func (x *Exporter) start(s span) {
	ctx := context.Background()
	if s.parent.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, s.parent)
	}
	_, sp := x.tracer(s.service).Start(ctx, s.name, trace.WithSpanKind(s.kind), trace.WithTimestamp(s.start),
		trace.WithAttributes(s.attrs...))
	if s.status != codes.Unset {
		sp.SetStatus(s.status, s.statusMsg)
	}
	sp.End(trace.WithTimestamp(s.end))
}

// header is the value of the first header named name (any case).
func header(hs []record.Header, name string) string {
	for _, h := range hs {
		if len(h.Name) == len(name) && strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// headerCarrier reads a request's headers for the propagator.
type headerCarrier []record.Header

func (c headerCarrier) Get(key string) string { return header(c, key) }
func (c headerCarrier) Set(string, string)    {}
func (c headerCarrier) Keys() []string {
	keys := make([]string, len(c))
	for i, h := range c {
		keys[i] = h.Name
	}
	return keys
}
