// Message is what the parser knows about one HTTP message: start line,
// header fields, sizes and flags, held in reused buffers.
package httpparse

// Span is a byte range [Off, End) of Message.Head().
type Span struct{ Off, End int32 }

// Field is one stored header field, as spans of Message.Head().
type Field struct{ Name, Value Span }

// Message is the message the parser is reading or has just read. Its byte
// slices alias the parser's buffers: they are valid until the next Begin.
type Message struct {
	// Request is true for a request, false for a response.
	Request bool
	// Status is a response's status code.
	Status int
	// HeaderBytes counts the start line and header section on the wire,
	// including line ends and the blank line.
	HeaderBytes uint64
	// BodyBytes counts body payload bytes, without chunk framing.
	BodyBytes uint64
	// WireBytes counts every byte of the message on the wire: start line,
	// headers, body, chunk framing and trailers.
	WireBytes uint64
	// ContentLength is the Content-Length value, -1 when absent.
	ContentLength int64
	// Chunked is true when the body uses chunked transfer coding.
	Chunked bool
	// Close is true when a Connection header says close.
	Close bool
	// Upgrade is true when the message has an Upgrade header; UpgradeH2C
	// when one lists h2c (a request asking for HTTP/2 without TLS, or the
	// 101 that grants it, RFC 7540 §3.2).
	Upgrade, UpgradeH2C bool
	// Truncated is true when the header section was cut: longer than
	// MaxHeaderBytes, or bytes of it were not captured.
	Truncated bool
	// Gap is true when bytes of the message were never seen.
	Gap bool
	// Cut is true when the message ended early: its framing was lost to
	// missing bytes, or the stream ended inside it.
	Cut bool
	// Ambiguous is true when the framing headers could be read more than
	// one way: Content-Length with Transfer-Encoding, Transfer-Encoding in
	// HTTP/1.0, or a framing header folded over lines (obs-fold). The
	// message is framed as RFC 9112 section 6 says; a peer that frames it
	// otherwise sees other messages.
	Ambiguous bool
	// Body holds the first Limits.CaptureBodyBytes of the body payload.
	Body []byte
	// Method, Target and Proto are a request's start line; Proto and
	// Reason a response's. They index Head.
	Method, Target, Proto, Reason Span
	// Fields are the stored header fields, in order.
	Fields []Field

	head []byte // start line, then each stored header line, without line ends
}

func (m *Message) reset(request bool) {
	*m = Message{
		Request:       request,
		ContentLength: -1,
		Body:          m.Body[:0],
		head:          m.head[:0],
		Fields:        m.Fields[:0],
	}
}

// Head is the stored start line and header lines, back to back without
// line ends; every Span of the message indexes it, so a caller can turn the
// whole header section into one string and slice it.
func (m *Message) Head() []byte { return m.head }

// Bytes is the part of Head a span covers.
func (m *Message) Bytes(s Span) []byte { return m.head[s.Off:s.End] }

// MethodKind is what a response's framing needs to know about the request
// it answers.
type MethodKind uint8

// The method kinds.
const (
	MethodOther   MethodKind = iota // a method whose response has the usual framing
	MethodHead                      // HEAD: the response has no body
	MethodConnect                   // CONNECT: a 2xx response starts a tunnel
)

// Kind is a request's method kind.
func (m *Message) Kind() MethodKind {
	switch string(m.Bytes(m.Method)) {
	case "HEAD":
		return MethodHead
	case "CONNECT":
		return MethodConnect
	}
	return MethodOther
}
