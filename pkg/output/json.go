// The JSON sink: one object per exchange and line, keys in the contract's order.
package output

import (
	"io"
	"strconv"
	"strings"

	"github.com/httptrace/httptrace/pkg/record"
)

// NewJSON returns a sink writing one JSON object per line with the keys, in
// order: time, pid, tid, comm, fd, conn, side, client, server, method, path,
// proto, headers, status, response_headers, request_bytes, response_bytes,
// latency_ms, truncated, gap, adopted, incomplete, unmatched, tls (only
// when true), framing_ambiguous (only when true); for HTTP/2, stream and
// authority, request_trailers and trailers (when there are any), for gRPC
// grpc_service, grpc_method, grpc_request_messages and
// grpc_response_messages (when counted), and (when the response carried them)
// grpc_status and grpc_message, reset (a RST_STREAM's error code), goaway
// (the code of a GOAWAY that left the stream unprocessed) and
// unresolved (only when not 0); the container's
// keys; and then request_body and response_body when the exchange carries a body slice
// (non-nil, i.e. body capture is on). Header objects keep the order headers
// came in; a name given more than once (compared case-insensitively) is
// written once, at its first place, with the values joined by ", ".
func NewJSON(w io.Writer, clock Clock) Sink {
	return &sink{buffer: newBuffer(w), clock: clock, stamp: jsonStamp(), format: appendJSON}
}

// appendJSON appends e as one JSON object and a newline.
func appendJSON(b []byte, e *record.Exchange, s *sink) []byte {
	b = append(b, `{"time":"`...)
	b = s.appendTime(b, e)
	b = append(b, `","pid":`...)
	b = strconv.AppendUint(b, uint64(e.PID), 10)
	b = append(b, `,"tid":`...)
	b = strconv.AppendUint(b, uint64(e.TID), 10)
	b = append(b, `,"comm":`...)
	b = appendJSONString(b, e.Comm)
	b = append(b, `,"fd":`...)
	b = strconv.AppendInt(b, int64(e.FD), 10)
	b = append(b, `,"conn":`...)
	b = strconv.AppendUint(b, e.Conn, 10)
	b = append(b, `,"side":`...)
	b = appendJSONString(b, string(e.Side))
	b = append(b, `,"client":`...)
	b = appendJSONString(b, e.Client)
	b = append(b, `,"server":`...)
	b = appendJSONString(b, e.Server)
	b = append(b, `,"method":`...)
	b = appendJSONString(b, e.Method)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, e.Path)
	b = append(b, `,"proto":`...)
	b = appendJSONString(b, e.Proto)
	b = append(b, `,"headers":`...)
	b = appendJSONHeaders(b, e.Headers)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, `,"response_headers":`...)
	b = appendJSONHeaders(b, e.ResponseHeaders)
	b = append(b, `,"request_bytes":`...)
	b = strconv.AppendUint(b, e.RequestBytes, 10)
	b = append(b, `,"response_bytes":`...)
	b = strconv.AppendUint(b, e.ResponseBytes, 10)
	b = append(b, `,"latency_ms":`...)
	b = appendMs(b, e.LatencyNs) // as strconv formats e.LatencyMs()
	b = appendJSONBool(b, `,"truncated":`, e.Truncated)
	b = appendJSONBool(b, `,"gap":`, e.Gap)
	b = appendJSONBool(b, `,"adopted":`, e.Adopted)
	b = appendJSONBool(b, `,"incomplete":`, e.Incomplete)
	b = appendJSONBool(b, `,"unmatched":`, e.Unmatched)
	if e.TLS { // written only when set
		b = append(b, `,"tls":true`...)
	}
	if e.FramingAmbiguous { // rare: written only when set
		b = append(b, `,"framing_ambiguous":true`...)
	}
	if e.Stream != 0 { // HTTP/2 only
		b = append(b, `,"stream":`...)
		b = strconv.AppendUint(b, uint64(e.Stream), 10)
		b = append(b, `,"authority":`...)
		b = appendJSONString(b, e.Authority)
	}
	if len(e.RequestTrailers) > 0 {
		b = append(b, `,"request_trailers":`...)
		b = appendJSONHeaders(b, e.RequestTrailers)
	}
	if len(e.Trailers) > 0 {
		b = append(b, `,"trailers":`...)
		b = appendJSONHeaders(b, e.Trailers)
	}
	if e.GRPCService != "" { // a gRPC call
		b = append(b, `,"grpc_service":`...)
		b = appendJSONString(b, e.GRPCService)
		b = append(b, `,"grpc_method":`...)
		b = appendJSONString(b, e.GRPCMethod)
		if e.GRPCRequestMessages >= 0 {
			b = append(b, `,"grpc_request_messages":`...)
			b = strconv.AppendInt(b, int64(e.GRPCRequestMessages), 10)
		}
		if e.GRPCResponseMessages >= 0 {
			b = append(b, `,"grpc_response_messages":`...)
			b = strconv.AppendInt(b, int64(e.GRPCResponseMessages), 10)
		}
		if e.GRPCStatusSet {
			b = append(b, `,"grpc_status":`...)
			b = strconv.AppendInt(b, int64(e.GRPCStatus), 10)
			b = append(b, `,"grpc_message":`...)
			b = appendJSONString(b, e.GRPCMessage)
		}
	}
	if e.Reset {
		b = append(b, `,"reset":`...)
		b = strconv.AppendUint(b, uint64(e.ResetCode), 10)
	}
	if e.GoAway {
		b = append(b, `,"goaway":`...)
		b = strconv.AppendUint(b, uint64(e.GoAwayCode), 10)
	}
	if e.Unresolved > 0 {
		b = append(b, `,"unresolved":`...)
		b = strconv.AppendInt(b, int64(e.Unresolved), 10)
	}
	if e.ContainerID != "" { // written only for a process in a container
		b = append(b, `,"container_id":`...)
		b = appendJSONString(b, e.ContainerID)
		if e.ContainerName != "" {
			b = append(b, `,"container_name":`...)
			b = appendJSONString(b, e.ContainerName)
		}
		if e.ContainerPID != 0 {
			b = append(b, `,"container_pid":`...)
			b = strconv.AppendUint(b, uint64(e.ContainerPID), 10)
		}
	}
	if e.K8sPod != "" {
		b = append(b, `,"k8s_namespace":`...)
		b = appendJSONString(b, e.K8sNamespace)
		b = append(b, `,"k8s_pod":`...)
		b = appendJSONString(b, e.K8sPod)
		b = append(b, `,"k8s_container":`...)
		b = appendJSONString(b, e.ContainerName)
	}
	if e.PodUID != "" {
		b = append(b, `,"k8s_pod_uid":`...)
		b = appendJSONString(b, e.PodUID)
	}
	if e.RequestBody != nil {
		b = append(b, `,"request_body":`...)
		b = appendJSONBytes(b, e.RequestBody)
	}
	if e.ResponseBody != nil {
		b = append(b, `,"response_body":`...)
		b = appendJSONBytes(b, e.ResponseBody)
	}
	return append(b, '}', '\n')
}

func appendJSONBool(b []byte, key string, v bool) []byte {
	b = append(b, key...)
	if v {
		return append(b, "true"...)
	}
	return append(b, "false"...)
}

// appendJSONHeaders writes headers as an object in their order, a repeated
// name once with its values joined by ", " (RFC 9110 section 5.3).
func appendJSONHeaders(b []byte, hs []record.Header) []byte {
	b = append(b, '{')
	if !repeatedName(hs) {
		for i := range hs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, hs[i].Name)
			b = append(b, ':')
			b = appendJSONString(b, hs[i].Value)
		}
		return append(b, '}')
	}
	first := true
	for i, h := range hs {
		if seenName(hs[:i], h.Name) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, h.Name)
		b = append(b, ':', '"')
		b = appendJSONEscaped(b, h.Value)
		for _, more := range hs[i+1:] {
			if sameName(more.Name, h.Name) {
				b = append(b, ',', ' ')
				b = appendJSONEscaped(b, more.Value)
			}
		}
		b = append(b, '"')
	}
	return append(b, '}')
}

// repeatedName reports whether a header name is given more than once.
func repeatedName(hs []record.Header) bool {
	for i := 1; i < len(hs); i++ {
		if seenName(hs[:i], hs[i].Name) {
			return true
		}
	}
	return false
}

// seenName reports whether a header called name is among hs.
func seenName(hs []record.Header, name string) bool {
	for _, h := range hs {
		if sameName(h.Name, name) {
			return true
		}
	}
	return false
}

// sameName compares header names as HTTP does: ignoring case.
func sameName(a, b string) bool { return len(a) == len(b) && strings.EqualFold(a, b) }
