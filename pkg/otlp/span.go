// One exchange as one span: OpenTelemetry's HTTP semantic conventions.
package otlp

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/httptrace/httptrace/pkg/aggregate"
	"github.com/httptrace/httptrace/pkg/record"
)

// traceContext reads a request's W3C trace context (traceparent and
// tracestate).
var traceContext propagation.TraceContext

// span makes an exchange's span. Its strings are copies (a sink may not
// keep the exchange's), and its attributes come from a few slabs.
func (x *Exporter) span(e *record.Exchange) *tracepb.Span {
	s := &tracepb.Span{Kind: tracepb.Span_SPAN_KIND_SERVER}
	if e.Side == record.Client {
		s.Kind = tracepb.Span_SPAN_KIND_CLIENT
	}
	var name string
	method := aggregate.Method(e.Method)
	path, query, _ := strings.Cut(e.Path, "?")
	routed := ""
	if e.Method != "" && x.opts.Router != nil {
		routed = x.opts.Router.Route(e.Path)
	}
	switch {
	case e.Method == "":
		name = "HTTP" // a response with no request
	case method == aggregate.Other:
		name = "HTTP"
		if routed != "" {
			name += " " + routed
		}
	case routed != "":
		name = method + " " + routed
	default:
		name = method
	}
	s.Name = name
	s.StartTimeUnixNano, s.EndTimeUnixNano = x.times(e)
	a := newAttrs()
	scheme := "http"
	if e.TLS {
		scheme = "https"
	}
	host, port := aggregate.ServerOf(e)
	if e.Method != "" {
		a.add(a.str("http.request.method", method))
		if method == aggregate.Other {
			a.add(a.str("http.request.method_original", strings.Clone(e.Method)))
		}
		a.add(a.str("url.path", strings.Clone(path)))
		if query != "" {
			a.add(a.str("url.query", strings.Clone(query)))
		}
		if routed != "" {
			a.add(a.str("http.route", routed))
		}
		if e.Side == record.Client && port != 0 && strings.HasPrefix(path, "/") {
			a.add(a.str("url.full", fullURL(scheme, host, port, e.Path)))
		}
	} else {
		a.add(a.str("http.request.method", aggregate.Other)) // a response with no request
	}
	if e.Status != 0 {
		a.add(a.int("http.response.status_code", int64(e.Status)))
	}
	if host != "" {
		a.add(a.str("server.address", strings.Clone(host)))
	}
	if port != 0 {
		a.add(a.int("server.port", int64(port)))
	}
	if addr, err := netip.ParseAddrPort(e.Client); err == nil {
		a.add(a.str("client.address", addr.Addr().String()), a.int("client.port", int64(addr.Port())))
	} else if e.Client != "" || port == 0 {
		// A unix socket's peer: its name, if any.
		a.add(a.str("network.transport", "unix"))
		if e.Client != "" {
			a.add(a.str("client.address", strings.Clone(e.Client)))
		}
	}
	a.add(a.str("url.scheme", scheme))
	if v := aggregate.ProtoVersion(e.Proto); v != "" {
		a.add(a.str("network.protocol.version", v))
	}
	if ua := record.HeaderValue(e.Headers, "User-Agent"); ua != "" {
		a.add(a.str("user_agent.original", strings.Clone(ua)))
	}
	if e.Method != "" {
		a.add(a.int("http.request.body.size", int64(e.RequestBodyBytes)))
	}
	if e.Status != 0 {
		a.add(a.int("http.response.body.size", int64(e.ResponseBodyBytes)))
	}
	if e.GRPCService != "" {
		a.add(a.str("rpc.system", "grpc"), a.str("rpc.service", strings.Clone(e.GRPCService)),
			a.str("rpc.method", strings.Clone(e.GRPCMethod)))
		if e.GRPCStatusSet {
			a.add(a.int("rpc.grpc.status_code", int64(e.GRPCStatus)))
		}
	}
	a.add(a.int("process.pid", int64(e.PID)), a.str("process.executable.name", strings.Clone(e.Comm)))
	if e.ContainerID != "" {
		a.add(a.str("container.id", strings.Clone(e.ContainerID)))
		if e.ContainerName != "" {
			a.add(a.str("container.name", strings.Clone(e.ContainerName)))
		}
		if e.PodUID != "" {
			a.add(a.str("k8s.pod.uid", strings.Clone(e.PodUID)))
		}
		if e.K8sPod != "" {
			a.add(a.str("k8s.pod.name", strings.Clone(e.K8sPod)))
			if e.K8sNamespace != "" {
				a.add(a.str("k8s.namespace.name", strings.Clone(e.K8sNamespace)))
			}
			if e.ContainerName != "" {
				a.add(a.str("k8s.container.name", strings.Clone(e.ContainerName)))
			}
		}
	}
	// What httptrace knows that the conventions have no name for.
	if e.Incomplete {
		a.add(a.flag("httptrace.incomplete", true))
	}
	if e.Unmatched {
		a.add(a.flag("httptrace.unmatched", true))
	}
	if e.Gap {
		a.add(a.flag("httptrace.gap", true))
	}
	if e.Adopted {
		a.add(a.flag("httptrace.adopted", true))
	}
	code, msg, errType := status(e)
	if code != tracepb.Status_STATUS_CODE_UNSET {
		s.Status = &tracepb.Status{Code: code, Message: msg}
		a.add(a.str("error.type", errType))
	}
	s.Attributes = a.out
	var tid trace.TraceID
	if record.HeaderValue(e.Headers, "traceparent") != "" {
		parent := trace.SpanContextFromContext(traceContext.Extract(context.Background(), headerCarrier(e.Headers)))
		if parent.IsValid() {
			tid = parent.TraceID()
			sid := parent.SpanID()
			s.ParentSpanId = sid[:]
			s.TraceState = parent.TraceState().String()
			s.Flags = uint32(parent.TraceFlags()) | spanFlagsRemoteParent
		}
	}
	if s.Flags == 0 { // a root: sampled, and its parent (none) not remote
		s.Flags = uint32(trace.FlagsSampled) | uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)
	}
	ids := newIDs(tid)
	s.TraceId, s.SpanId = ids[:16], ids[16:]
	return s
}

// The span flags of OTLP (trace.proto): whether the parent is remote is
// known, and it is.
const spanFlagsRemoteParent = uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK | tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)

// newIDs is a trace ID (tid, or a new one when tid is not valid) and a new
// span ID, in one array.
func newIDs(tid trace.TraceID) *[24]byte {
	var ids [24]byte
	if tid.IsValid() {
		copy(ids[:16], tid[:])
	} else {
		binary.LittleEndian.PutUint64(ids[0:], rand.Uint64())
		binary.LittleEndian.PutUint64(ids[8:], rand.Uint64())
	}
	for {
		binary.LittleEndian.PutUint64(ids[16:], rand.Uint64())
		if [8]byte(ids[16:]) != ([8]byte{}) {
			return &ids
		}
	}
}

// times are the span's start and end in nanoseconds since the epoch: the
// request's first byte and the response's last (the request's last when
// there is no response; the response's first when there is no request).
func (x *Exporter) times(e *record.Exchange) (uint64, uint64) {
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
	return uint64(x.opts.Clock.Wall(start).UnixNano()), uint64(x.opts.Clock.Wall(end).UnixNano())
}

// status is the span's status as the conventions say, and its error.type
// when it is Error: for a 5xx answer on the server side, a 4xx or 5xx on
// the client side, a request that got no answer; for gRPC, a status other
// than OK on the client side, and on the server side the statuses that
// mean the server failed (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED,
// INTERNAL, UNAVAILABLE, DATA_LOSS). Otherwise Unset.
func status(e *record.Exchange) (code tracepb.Status_StatusCode, msg, errType string) {
	switch {
	case e.Incomplete:
		return tracepb.Status_STATUS_CODE_ERROR, "no response", "incomplete"
	case e.Status >= 500, e.Status >= 400 && e.Side == record.Client:
		return tracepb.Status_STATUS_CODE_ERROR, "", strconv.Itoa(e.Status)
	case e.GRPCStatusSet && e.GRPCStatus != 0 && (e.Side == record.Client || grpcServerFault[e.GRPCStatus]):
		return tracepb.Status_STATUS_CODE_ERROR, strings.Clone(e.GRPCMessage), strconv.Itoa(e.GRPCStatus)
	}
	return tracepb.Status_STATUS_CODE_UNSET, "", ""
}

// grpcServerFault are the gRPC statuses that are a server's errors.
var grpcServerFault = map[int]bool{2: true, 4: true, 12: true, 13: true, 14: true, 15: true}

// fullURL is a client request's absolute URL.
func fullURL(scheme, host string, port int, target string) string {
	h := host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if (scheme == "http" && port != 80) || (scheme == "https" && port != 443) {
		h += ":" + strconv.Itoa(port)
	}
	return scheme + "://" + h + target
}

// headerCarrier reads a request's headers for the propagator.
type headerCarrier []record.Header

func (c headerCarrier) Get(key string) string { return record.HeaderValue(c, key) }
func (c headerCarrier) Set(string, string)    {}
func (c headerCarrier) Keys() []string {
	keys := make([]string, len(c))
	for i, h := range c {
		keys[i] = h.Name
	}
	return keys
}

// attrs builds a span's attributes from slabs: a few allocations a span,
// not three an attribute.
type attrs struct {
	kvs   []commonpb.KeyValue
	vals  []commonpb.AnyValue
	strs  []commonpb.AnyValue_StringValue
	ints  []commonpb.AnyValue_IntValue
	flags []commonpb.AnyValue_BoolValue
	out   []*commonpb.KeyValue
}

// slabAttrs is how many attributes a slab holds: most spans have fewer.
const slabAttrs = 20

func newAttrs() *attrs {
	return &attrs{kvs: make([]commonpb.KeyValue, 0, slabAttrs), vals: make([]commonpb.AnyValue, 0, slabAttrs),
		strs: make([]commonpb.AnyValue_StringValue, 0, 13), ints: make([]commonpb.AnyValue_IntValue, 0, 7),
		out: make([]*commonpb.KeyValue, 0, slabAttrs)}
}

// kv takes the next key-value of the slab and its value, to be set.
func (a *attrs) kv(key string) (*commonpb.KeyValue, *commonpb.AnyValue) {
	if len(a.kvs) == cap(a.kvs) {
		a.kvs, a.vals = make([]commonpb.KeyValue, 0, slabAttrs), make([]commonpb.AnyValue, 0, slabAttrs)
	}
	a.kvs = a.kvs[:len(a.kvs)+1]
	a.vals = a.vals[:len(a.vals)+1]
	val := &a.vals[len(a.vals)-1]
	kv := &a.kvs[len(a.kvs)-1]
	kv.Key, kv.Value = key, val
	return kv, val
}

func (a *attrs) str(key, v string) *commonpb.KeyValue {
	kv, val := a.kv(key)
	a.strs = append(a.strs, commonpb.AnyValue_StringValue{StringValue: v})
	val.Value = &a.strs[len(a.strs)-1]
	return kv
}

func (a *attrs) int(key string, n int64) *commonpb.KeyValue {
	kv, val := a.kv(key)
	a.ints = append(a.ints, commonpb.AnyValue_IntValue{IntValue: n})
	val.Value = &a.ints[len(a.ints)-1]
	return kv
}

func (a *attrs) flag(key string, v bool) *commonpb.KeyValue {
	kv, val := a.kv(key)
	a.flags = append(a.flags, commonpb.AnyValue_BoolValue{BoolValue: v})
	val.Value = &a.flags[len(a.flags)-1]
	return kv
}

// add puts kvs on the span.
func (a *attrs) add(kvs ...*commonpb.KeyValue) { a.out = append(a.out, kvs...) }
