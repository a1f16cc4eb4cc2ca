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
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/httptrace/httptrace/pkg/aggregate"
	"github.com/httptrace/httptrace/pkg/record"
)

// traceContext reads a request's W3C trace context (traceparent and
// tracestate).
var traceContext propagation.TraceContext

// appendSpan appends e's span to b as an entry of ScopeSpans.spans.
func (x *Exporter) appendSpan(b []byte, e *record.Exchange) []byte {
	s := x.body[:0]
	var tid trace.TraceID
	var parent trace.SpanContext
	if record.HeaderValue(e.Headers, "traceparent") != "" {
		parent = trace.SpanContextFromContext(traceContext.Extract(context.Background(), headerCarrier(e.Headers)))
		if parent.IsValid() {
			tid = parent.TraceID()
		}
	}
	ids := newIDs(tid)
	s = appendBytes(s, fieldTraceID, ids[:16])
	s = appendBytes(s, fieldSpanID, ids[16:])
	// A root is sampled, and its parent (none) not remote.
	flags := uint32(trace.FlagsSampled) | uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)
	if parent.IsValid() {
		if ts := parent.TraceState().String(); ts != "" {
			s = appendString(s, fieldTraceState, ts)
		}
		sid := parent.SpanID()
		s = appendBytes(s, fieldParentSpanID, sid[:])
		flags = uint32(parent.TraceFlags()) | spanFlagsRemoteParent
	}

	method := aggregate.Method(e.Method)
	path, query, _ := strings.Cut(e.Path, "?")
	routed := x.route[:0]
	if e.Method != "" && x.opts.Router != nil {
		routed = x.opts.Router.AppendRoute(routed, e.Path)
		x.route = routed
	}
	name := x.tmp[:0]
	switch {
	case e.Method == "" || method == aggregate.Other: // a response with no request; a method not known
		name = append(name, "HTTP"...)
		if e.Method != "" && len(routed) > 0 {
			name = append(append(name, ' '), routed...)
		}
	case len(routed) > 0:
		name = append(append(append(name, method...), ' '), routed...)
	default:
		name = append(name, method...)
	}
	x.tmp = name
	s = appendBytes(s, fieldName, validBytes(name))
	kind := tracepb.Span_SPAN_KIND_SERVER
	if e.Side == record.Client {
		kind = tracepb.Span_SPAN_KIND_CLIENT
	}
	s = varint(append(s, tag(fieldKind, protowire.VarintType)), uint64(kind))
	start, end := x.times(e)
	s = protowire.AppendFixed64(append(s, tag(fieldStart, protowire.Fixed64Type)), start)
	s = protowire.AppendFixed64(append(s, tag(fieldEnd, protowire.Fixed64Type)), end)

	scheme := "http"
	if e.TLS {
		scheme = "https"
	}
	host, port := aggregate.ServerOf(e)
	if e.Method != "" {
		s = appendStrAttr(s, "http.request.method", method)
		if method == aggregate.Other {
			s = appendStrAttr(s, "http.request.method_original", e.Method)
		}
		s = appendStrAttr(s, "url.path", path)
		if query != "" {
			s = appendStrAttr(s, "url.query", query)
		}
		if len(routed) > 0 {
			s = appendTextAttr(s, "http.route", validBytes(routed))
		}
		if e.Side == record.Client && port != 0 && strings.HasPrefix(path, "/") {
			x.tmp = appendFullURL(x.tmp[:0], scheme, host, port, e.Path)
			s = appendTextAttr(s, "url.full", validBytes(x.tmp))
		}
	} else {
		s = appendStrAttr(s, "http.request.method", aggregate.Other) // a response with no request
	}
	if e.Status != 0 {
		s = appendIntAttr(s, "http.response.status_code", int64(e.Status))
	}
	if host != "" {
		s = appendStrAttr(s, "server.address", host)
	}
	if port != 0 {
		s = appendIntAttr(s, "server.port", int64(port))
	}
	if addr, err := netip.ParseAddrPort(e.Client); err == nil {
		var text [64]byte
		s = appendTextAttr(s, "client.address", addr.Addr().AppendTo(text[:0]))
		s = appendIntAttr(s, "client.port", int64(addr.Port()))
	} else if e.Client != "" || port == 0 {
		// A unix socket's peer: its name, if any.
		s = appendStrAttr(s, "network.transport", "unix")
		if e.Client != "" {
			s = appendStrAttr(s, "client.address", e.Client)
		}
	}
	s = appendStrAttr(s, "url.scheme", scheme)
	if v := aggregate.ProtoVersion(e.Proto); v != "" {
		s = appendStrAttr(s, "network.protocol.version", v)
	}
	if ua := record.HeaderValue(e.Headers, "User-Agent"); ua != "" {
		s = appendStrAttr(s, "user_agent.original", ua)
	}
	if e.Method != "" {
		s = appendIntAttr(s, "http.request.body.size", int64(e.RequestBodyBytes))
	}
	if e.Status != 0 {
		s = appendIntAttr(s, "http.response.body.size", int64(e.ResponseBodyBytes))
	}
	if e.GRPCService != "" {
		s = appendStrAttr(s, "rpc.system", "grpc")
		s = appendStrAttr(s, "rpc.service", e.GRPCService)
		s = appendStrAttr(s, "rpc.method", e.GRPCMethod)
		if e.GRPCStatusSet {
			s = appendIntAttr(s, "rpc.grpc.status_code", int64(e.GRPCStatus))
		}
	}
	s = appendIntAttr(s, "process.pid", int64(e.PID))
	s = appendStrAttr(s, "process.executable.name", e.Comm)
	if e.ContainerID != "" {
		s = appendStrAttr(s, "container.id", e.ContainerID)
		if e.ContainerName != "" {
			s = appendStrAttr(s, "container.name", e.ContainerName)
		}
		if e.PodUID != "" {
			s = appendStrAttr(s, "k8s.pod.uid", e.PodUID)
		}
		if e.K8sPod != "" {
			s = appendStrAttr(s, "k8s.pod.name", e.K8sPod)
			if e.K8sNamespace != "" {
				s = appendStrAttr(s, "k8s.namespace.name", e.K8sNamespace)
			}
			if e.ContainerName != "" {
				s = appendStrAttr(s, "k8s.container.name", e.ContainerName)
			}
		}
	}
	// What httptrace knows that the conventions have no name for.
	for _, f := range [...]struct {
		key string
		on  bool
	}{{"httptrace.incomplete", e.Incomplete}, {"httptrace.unmatched", e.Unmatched}, {"httptrace.gap", e.Gap}, {"httptrace.adopted", e.Adopted}} {
		if f.on {
			s = appendBoolAttr(s, f.key, true)
		}
	}
	if code, msg, errType := status(e); code != tracepb.Status_STATUS_CODE_UNSET {
		s = appendStrAttr(s, "error.type", errType)
		s = appendStatus(s, code, msg)
	}
	s = protowire.AppendTag(s, fieldFlags, protowire.Fixed32Type)
	s = protowire.AppendFixed32(s, flags)
	x.body = s
	return appendScopeSpan(b, s)
}

// The span flags of OTLP (trace.proto): whether the parent is remote is
// known, and it is.
const spanFlagsRemoteParent = uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK | tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)

// newIDs is a trace ID (tid, or a new one when tid is not valid) and a new
// span ID, in one array.
func newIDs(tid trace.TraceID) [24]byte {
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
			return ids
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
// when it is Error (record.ErrorType; "incomplete" for a request that got
// no answer). Otherwise Unset.
func status(e *record.Exchange) (code tracepb.Status_StatusCode, msg, errType string) {
	if e.Incomplete {
		return tracepb.Status_STATUS_CODE_ERROR, "no response", "incomplete"
	}
	if t := record.ErrorType(e.Side, e.Status, e.GRPCStatusSet, e.GRPCStatus); t != "" {
		if e.Status < 400 {
			msg = e.GRPCMessage
		}
		return tracepb.Status_STATUS_CODE_ERROR, msg, t
	}
	return tracepb.Status_STATUS_CODE_UNSET, "", ""
}

// appendFullURL appends a client request's absolute URL.
func appendFullURL(b []byte, scheme, host string, port int, target string) []byte {
	b = append(append(b, scheme...), "://"...)
	if strings.Contains(host, ":") {
		b = append(append(append(b, '['), host...), ']')
	} else {
		b = append(b, host...)
	}
	if (scheme == "http" && port != 80) || (scheme == "https" && port != 443) {
		b = strconv.AppendInt(append(b, ':'), int64(port), 10)
	}
	return append(b, target...)
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
