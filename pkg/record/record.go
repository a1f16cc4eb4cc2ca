// Package record defines one HTTP exchange as it is logged: the type the
// exchange stage produces and every sink (text, JSON, later metrics and
// OTLP) consumes.
package record

import (
	"strconv"
	"strings"
)

// Side is which end of the connection the traced process is.
type Side string

// The sides: the process that reads the request is the server.
const (
	Server Side = "server"
	Client Side = "client"
)

// Header is one header line, in the order it came.
type Header struct {
	Name, Value string
}

// HeaderValue is the value of the first of hs named name (any case), ""
// when none is.
func HeaderValue(hs []Header, name string) string {
	for _, h := range hs {
		if len(h.Name) == len(name) && strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// Exchange is one request with its response. Times are monotonic
// nanoseconds (bpf_ktime_get_ns); sinks turn them into wall-clock time.
type Exchange struct {
	PID, TID uint32
	Comm     string
	// Where the process runs, when in a container (from its cgroup):
	// the container's ID, the process's PID in the container's PID
	// namespace (0 in the host's), the Kubernetes pod's UID.
	ContainerID   string
	ContainerName string // its name, when the container runtime told it
	ContainerPID  uint32
	PodUID        string
	// The Kubernetes pod's name and namespace, when the runtime told them
	// (ContainerName is then the pod's container's).
	K8sPod, K8sNamespace string
	FD                   int32
	Conn                 uint64 // connection id (the socket's inode number)
	Side                 Side
	Client               string // ip:port
	Server               string // ip:port

	// The request. Empty for an unmatched response.
	Method, Path, Proto string
	// Authority is an HTTP/2 request's :authority (HTTP/1 has a Host header).
	Authority string
	// Stream is the HTTP/2 stream id (0 for HTTP/1).
	Stream           uint32
	Headers          []Header
	RequestBytes     uint64 // on the wire: start line, headers and body
	RequestBodyBytes uint64 // the body's payload (no chunk framing)
	RequestBody      []byte // the first capture_body_bytes of the body, if asked
	RequestStartNs   uint64 // first request byte moved
	RequestEndNs     uint64 // last request byte moved

	// The response. Status 0 when there is none (incomplete).
	Status          int
	Reason          string
	ResponseProto   string
	ResponseHeaders []Header
	// Trailers are the fields of a header block after the response's
	// body (HTTP/2; a gRPC status); RequestTrailers the request's.
	Trailers, RequestTrailers []Header
	ResponseBytes             uint64
	ResponseBodyBytes         uint64 // the body's payload (no chunk framing)
	ResponseBody              []byte
	ResponseStartNs           uint64 // first response byte moved
	ResponseEndNs             uint64 // last response byte moved

	// LatencyNs is the first response byte minus the last request byte
	// (minus the first, for an HTTP/2 stream answered while its request
	// was still being sent).
	LatencyNs uint64

	// A gRPC call's service and method (from the path) and, when its
	// response carried one, its grpc-status (GRPCStatusSet) and
	// grpc-message, percent-decoded.
	GRPCService, GRPCMethod string
	GRPCStatus              int
	GRPCStatusSet           bool
	GRPCMessage             string
	// The messages of each side of a gRPC call (one for unary, any
	// number when streaming); -1 when bytes where a message's prefix may
	// lie were not seen.
	GRPCRequestMessages, GRPCResponseMessages int

	// Reset: an HTTP/2 stream ended by RST_STREAM, with ResetCode (RFC
	// 9113 §7: 8 is CANCEL).
	Reset     bool
	ResetCode uint32
	// GoAway: an HTTP/2 stream a GOAWAY left unprocessed (its id past the
	// GOAWAY's last stream id), with GoAwayCode.
	GoAway     bool
	GoAwayCode uint32

	// Unresolved counts HTTP/2 header fields that could not be decoded
	// and are left out: they name an HPACK table entry from before the
	// tracer joined, or bytes of their block were not seen.
	Unresolved int

	Truncated  bool // a header section was cut (max_header_bytes, or bytes not captured)
	Gap        bool // bytes of this exchange were never seen
	Adopted    bool // the connection was picked up after it opened
	TLS        bool // the messages are a TLS connection's plaintext (HTTPS)
	Incomplete bool // no response by close or exchange_timeout
	Unmatched  bool // a response with no request
	// FramingAmbiguous: a message's framing headers could be read more
	// than one way (Content-Length with Transfer-Encoding, Transfer-Encoding
	// in HTTP/1.0, a folded framing header); it was framed as RFC 9112 says.
	FramingAmbiguous bool
}

// grpcCodes are gRPC's status code names, by code.
var grpcCodes = [...]string{"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
	"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
	"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"}

// GRPCCodeName is the name of gRPC status code c (NOT_FOUND for 5), ""
// for a code gRPC does not define.
func GRPCCodeName(c int) string {
	if c >= 0 && c < len(grpcCodes) {
		return grpcCodes[c]
	}
	return ""
}

// ErrorType is error.type of an answered exchange that failed, as the
// HTTP and RPC semantic conventions say, "" when it did not fail: the
// status code as text for a 5xx on the server side and a 4xx or 5xx on
// the client side; for a gRPC call (over an HTTP 200), its status's name
// (DEADLINE_EXCEEDED; the code as text for one gRPC does not define) for
// a status other than OK on the client side, and on the server side for
// the statuses that mean the server failed (UNKNOWN, DEADLINE_EXCEEDED,
// UNIMPLEMENTED, INTERNAL, UNAVAILABLE, DATA_LOSS). Errors are rare, so
// the allocation of the text is too.
func ErrorType(side Side, status int, grpcSet bool, grpcStatus int) string {
	switch {
	case status >= 500, status >= 400 && side == Client:
		return strconv.Itoa(status)
	case grpcSet && grpcStatus != 0 && (side == Client || grpcServerFault(grpcStatus)):
		if name := GRPCCodeName(grpcStatus); name != "" {
			return name
		}
		return strconv.Itoa(grpcStatus)
	}
	return ""
}

// grpcServerFault is whether gRPC status c is a server's error.
func grpcServerFault(c int) bool {
	switch c {
	case 2, 4, 12, 13, 14, 15:
		return true
	}
	return false
}

// LatencyMs is LatencyNs in milliseconds.
func (e *Exchange) LatencyMs() float64 { return float64(e.LatencyNs) / 1e6 }
