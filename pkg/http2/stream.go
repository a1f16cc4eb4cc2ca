// Package http2 follows an HTTP/2 connection from the bytes of its two
// directions: it reads the frames, decodes the header blocks with HPACK
// (golang.org/x/net/http2/hpack, one decoder per direction), and hands on
// each stream, request with response, when it ends.
package http2

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/stream"
)

// Field is one header field, in the order it came: the record's type, so
// that a stream's fields go into its record as they are.
type Field = record.Header

// Message is one direction of a stream: a request or a response.
type Message struct {
	// The pseudo-header fields.
	Method, Scheme, Authority, Path string
	Status                          int
	// Fields are the regular fields of the first header block; Trailers
	// those of a header block after it (a gRPC status, say).
	Fields, Trailers []Field
	// Bytes are the stream's frames on the wire in this direction (frame
	// headers included); BodyBytes the DATA payload without padding.
	Bytes, BodyBytes uint64
	// First and Last are the syscalls (or TLS calls) that moved the
	// message's first and last frame.
	First, Last stream.Meta
	Headers     bool // a header block of the message came
	Ended       bool // END_STREAM came
	// Unresolved counts fields of its header blocks that could not be
	// decoded, left out: one for each that names a dynamic-table entry
	// never seen, and one for the rest of each block that could not be
	// read on (bytes not seen, an entry past the table's known end).
	Unresolved int
	Gap        bool // bytes of its frames were not seen
	Truncated  bool // header fields past the size limit were left out
	size       int  // bytes of names and values kept
	// Body is the body's first Limits.CaptureBodyBytes bytes, up to the
	// first of them that was not seen (BodyCut then says so).
	Body        []byte
	bodyCut     bool
	bodyCharged int // bytes of Body charged to the budget
	body        bodyState
}

// Stream is one HTTP/2 stream: the client's request and the server's response.
type Stream struct {
	ID                uint32
	Request, Response Message
	// Reset: a RST_STREAM ended it, with ResetCode (RFC 9113 §7).
	Reset     bool
	ResetCode uint32
	// GoAway: a GOAWAY whose last stream id was below it left it
	// unprocessed, with GoAwayCode.
	GoAway     bool
	GoAwayCode uint32
	// answerOnly: the server's HEADERS opened it, its request not seen
	// (from before the connection was joined, or lost).
	answerOnly bool
}

// BodyCut reports whether bytes of the body's kept part were not seen:
// Body stops before them.
func (m *Message) BodyCut() bool { return m.bodyCut }

// Incomplete reports whether the stream ended before its response did.
func (s *Stream) Incomplete() bool { return !s.Response.Ended }

// GRPC reports whether the stream is a gRPC call (RFC: content-type
// application/grpc, with or without a subtype).
func (s *Stream) GRPC() bool {
	ct := fieldValue(s.Request.Fields, "content-type")
	if ct == "" {
		ct = fieldValue(s.Response.Fields, "content-type")
	}
	return ct == "application/grpc" || strings.HasPrefix(ct, "application/grpc+") || strings.HasPrefix(ct, "application/grpc;")
}

// GRPCStatus is the call's grpc-status and grpc-message (percent-decoded),
// from the trailers or, for a trailers-only response, its header block;
// ok is false when there is none.
func (s *Stream) GRPCStatus() (code int, msg string, ok bool) {
	for _, fs := range [2][]Field{s.Response.Trailers, s.Response.Fields} {
		v := fieldValue(fs, "grpc-status")
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, "", false
		}
		msg = fieldValue(fs, "grpc-message")
		if m, err := url.PathUnescape(msg); err == nil {
			msg = m
		}
		return n, msg, true
	}
	return 0, "", false
}

// GRPCMethod splits a gRPC path, /package.Service/Method, into its
// service and method; ok is false for any other path.
func GRPCMethod(path string) (service, method string, ok bool) {
	if len(path) < 4 || path[0] != '/' {
		return "", "", false
	}
	service, method, ok = strings.Cut(path[1:], "/")
	if !ok || service == "" || method == "" || strings.Contains(method, "/") {
		return "", "", false
	}
	return service, method, true
}

func fieldValue(fs []Field, name string) string {
	for _, f := range fs {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}
