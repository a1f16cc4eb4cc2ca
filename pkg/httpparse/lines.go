// Line grammar: start lines, header fields and chunk-size lines, checked
// strictly enough that random bytes are not taken for HTTP.
package httpparse

import (
	"bytes"
	"strings"
)

// maxMethodLen bounds a method token; real ones are short.
const maxMethodLen = 24

// tchars marks the bytes that may appear in a header field name (RFC 9110
// token).
var tchars = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", byte(c)) >= 0
	}
	return t
}()

// valueOK marks the bytes a header field value may hold: any but control
// bytes other than HTAB, and DEL.
var valueOK = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c >= ' ' && c != 0x7f || c == '\t'
	}
	return t
}()

// isMethodChar reports whether c may appear in a method: methods are
// upper-case tokens in practice, and accepting only those keeps random
// bytes from passing.
func isMethodChar(c byte) bool { return c >= 'A' && c <= 'Z' || c == '-' || c == '_' }

// mayStartLine reports whether c can be the first byte of a start line.
func mayStartLine(c byte) bool { return c >= 'A' && c <= 'Z' }

// parseProto checks "HTTP/1.0" or "HTTP/1.1".
func parseProto(b []byte) bool {
	return len(b) == 8 && string(b[:7]) == "HTTP/1." && (b[7] == '0' || b[7] == '1')
}

// requestLine splits "METHOD SP target SP HTTP/1.x" into spans relative to
// the line; ok is false when the line is not one.
func requestLine(line []byte) (method, target, proto Span, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 || sp > maxMethodLen {
		return method, target, proto, false
	}
	for _, c := range line[:sp] {
		if !isMethodChar(c) {
			return method, target, proto, false
		}
	}
	rest := line[sp+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 <= 0 || !parseProto(rest[sp2+1:]) {
		return method, target, proto, false
	}
	t := rest[:sp2]
	if c := t[0]; c != '/' && c != '*' && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '[') {
		return method, target, proto, false
	}
	for _, c := range t {
		if c <= ' ' || c == 0x7f {
			return method, target, proto, false
		}
	}
	method = Span{0, int32(sp)}
	target = Span{int32(sp + 1), int32(sp + 1 + sp2)}
	proto = Span{target.End + 1, int32(len(line))}
	return method, target, proto, true
}

// statusLine splits "HTTP/1.x SP 3DIGIT [SP reason]".
func statusLine(line []byte) (status int, proto, reason Span, ok bool) {
	if len(line) < 12 || !parseProto(line[:8]) || line[8] != ' ' {
		return 0, proto, reason, false
	}
	d := line[9:12]
	if d[0] < '1' || d[0] > '5' || d[1] < '0' || d[1] > '9' || d[2] < '0' || d[2] > '9' {
		return 0, proto, reason, false
	}
	status = int(d[0]-'0')*100 + int(d[1]-'0')*10 + int(d[2]-'0')
	reason = Span{12, 12}
	if len(line) > 12 {
		if line[12] != ' ' {
			return 0, proto, reason, false
		}
		for _, c := range line[13:] {
			if c < ' ' && c != '\t' || c == 0x7f {
				return 0, proto, reason, false
			}
		}
		reason = Span{13, int32(len(line))}
	}
	return status, Span{0, 8}, reason, true
}

// headerField splits "name: value" with optional whitespace around the
// value; ok is false for a line that is not a field. A continuation line
// (obsolete folding) is reported with fold set.
func headerField(line []byte) (name, value Span, fold, ok bool) {
	if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
		return name, value, true, true
	}
	// The name runs to the first byte that is not a tchar, which must be
	// the colon.
	colon := 0
	for colon < len(line) && tchars[line[colon]] {
		colon++
	}
	if colon == 0 || colon == len(line) || line[colon] != ':' {
		return name, value, false, false
	}
	v0, v1 := colon+1, len(line)
	for v0 < v1 && (line[v0] == ' ' || line[v0] == '\t') {
		v0++
	}
	for v1 > v0 && (line[v1-1] == ' ' || line[v1-1] == '\t') {
		v1--
	}
	for _, c := range line[v0:v1] {
		if !valueOK[c] {
			return name, value, false, false
		}
	}
	return Span{0, int32(colon)}, Span{int32(v0), int32(v1)}, false, true
}

// equalFold compares ASCII case-insensitively; b is lower case.
func equalFold(a []byte, lower string) bool {
	if len(a) != len(lower) {
		return false
	}
	for i := range len(a) {
		c := a[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hasToken reports whether a comma-separated list holds tok (lower case).
func hasToken(list []byte, tok string) bool {
	for len(list) > 0 {
		var item []byte
		if i := bytes.IndexByte(list, ','); i >= 0 {
			item, list = list[:i], list[i+1:]
		} else {
			item, list = list, nil
		}
		if equalFold(bytes.TrimSpace(item), tok) {
			return true
		}
	}
	return false
}

// lastToken reports whether the last item of a comma-separated list is tok.
func lastToken(list []byte, tok string) bool {
	if i := bytes.LastIndexByte(list, ','); i >= 0 {
		list = list[i+1:]
	}
	return equalFold(bytes.TrimSpace(list), tok)
}

// parseDecimal reads a Content-Length value.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// chunkSize reads "HEX [; extensions]" from a chunk-size line.
func chunkSize(line []byte) (uint64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimRight(line, " \t")
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var n uint64
	for _, c := range line {
		switch {
		case c >= '0' && c <= '9':
			n = n<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			n = n<<4 | uint64(c-'a'+10)
		case c >= 'A' && c <= 'F':
			n = n<<4 | uint64(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, true
}

// Opening is what the first bytes of a stream say of its protocol.
type Opening uint8

const (
	OpeningUnknown Opening = iota // too few bytes to tell
	OpeningHTTP                   // they can open an HTTP/1 message
	OpeningNotHTTP                // no HTTP/1 message starts like this
	OpeningHTTP2                  // the HTTP/2 connection preface (h2c with prior knowledge, or ALPN h2)
)

// http2Preface is what a client sends first on an HTTP/2 connection.
const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// http2Settings says whether b starts with an HTTP/2 SETTINGS frame on
// stream 0 without flags (a server's first frame, which it may send before
// it reads the client's preface): a 24-bit length that is a multiple of 6
// (at most 16 KiB), type 4, flags 0, stream 0.
func http2Settings(b []byte) bool {
	if len(b) < 9 {
		return false
	}
	n := int(b[0])<<16 | int(b[1])<<8 | int(b[2])
	return n%6 == 0 && n <= 16384 && b[3] == 4 && b[4] == 0 && b[5]&0x7f == 0 && b[6] == 0 && b[7] == 0 && b[8] == 0
}

// proxyV2 is the signature of a PROXY protocol version 2 header.
const proxyV2 = "\r\n\r\n\x00\r\nQUIT\n"

// startsWith says whether b begins with s, and startOf whether b is the
// start of s. Neither converts all of b to a string: an opening is up to a
// whole captured record, and this runs on every new connection.
func startsWith(b []byte, s string) bool {
	return len(b) >= len(s) && string(b[:len(s)]) == s
}

func startOf(b []byte, s string) bool {
	return len(b) <= len(s) && string(b) == s[:len(b)]
}

// OpeningOf says whether b, the first bytes of a stream, can open an
// HTTP/1 message: a request line's method and its space, or "HTTP/" (a
// response seen first), after any empty lines (RFC 9112 section 2.2). A
// PROXY protocol header may come first: version 1 ("PROXY ") reads as a
// method, version 2 is known by its signature. HTTP/2 is told apart: the
// client's preface (its "PRI " would read as a method) or the server's
// first SETTINGS frame.
func OpeningOf(b []byte) Opening {
	if startsWith(b, http2Preface) {
		return OpeningHTTP2
	}
	if http2Settings(b) {
		return OpeningHTTP2
	}
	if startOf(b, http2Preface) && len(b) > 3 {
		return OpeningUnknown
	}
	if startsWith(b, proxyV2) {
		return OpeningHTTP
	}
	if startOf(b, proxyV2) {
		return OpeningUnknown
	}
	i := 0
	for i < len(b) && (b[i] == '\r' || b[i] == '\n') {
		i++
	}
	rest := b[i:]
	for j, c := range rest {
		switch {
		case c == ' ' && j > 0:
			return OpeningHTTP
		case c == '/' && string(rest[:j]) == "HTTP":
			return OpeningHTTP
		case !isMethodChar(c) || j >= maxMethodLen:
			return OpeningNotHTTP
		}
	}
	return OpeningUnknown
}
