// Package httpparse parses the start of an HTTP/1.x request from captured
// bytes, which may stop anywhere: partial input is normal, not an error.
package httpparse

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// ErrNotRequest means the bytes do not start with an HTTP/1.x request line.
var ErrNotRequest = errors.New("not an HTTP/1.x request")

// Header is one header field, as sent.
type Header struct {
	Name  string
	Value string
}

// Request is what the captured bytes say about a request.
type Request struct {
	Method  string
	Path    string // the request target
	Proto   string // "HTTP/1.1"; empty when the request line was cut short
	Headers []Header
	Host    string
	// Complete is true when the whole header block (up to the blank line)
	// was in the captured bytes.
	Complete bool
}

// Get returns the first value of a header, matched case-insensitively.
func (r *Request) Get(name string) (string, bool) {
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// ParseRequest parses a request line and as many complete header lines as
// the data holds.
func ParseRequest(data []byte) (Request, error) {
	var r Request
	line, rest, full := cutLine(data)
	method, target, proto, err := requestLine(line, full)
	if err != nil {
		return r, err
	}
	r.Method, r.Path, r.Proto = method, target, proto
	if !full {
		return r, nil
	}
	for {
		line, rest, full = cutLine(rest)
		if !full {
			return r, nil // the capture ended inside the header block
		}
		if len(line) == 0 {
			r.Complete = true
			return r, nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok || len(name) == 0 || !isToken(name) {
			return r, fmt.Errorf("malformed header line %q", truncate(line))
		}
		h := Header{Name: string(name), Value: string(bytes.TrimSpace(value))}
		r.Headers = append(r.Headers, h)
		if r.Host == "" && strings.EqualFold(h.Name, "Host") {
			r.Host = h.Value
		}
	}
}

// requestLine splits "METHOD SP target SP HTTP/1.x". A line cut short by
// the capture gives what it holds.
func requestLine(line []byte, full bool) (method, target, proto string, err error) {
	m, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(m) == 0 || !isMethod(m) {
		return "", "", "", ErrNotRequest
	}
	t, p, ok := bytes.Cut(rest, []byte(" "))
	if !ok {
		if full {
			return "", "", "", ErrNotRequest // HTTP/0.9 or garbage
		}
		return string(m), string(t), "", nil
	}
	if len(t) == 0 {
		return "", "", "", ErrNotRequest
	}
	p = bytes.TrimSuffix(p, []byte("\r"))
	switch {
	case len(p) == len("HTTP/1.x") && bytes.HasPrefix(p, []byte("HTTP/1.")):
	case !full && len(p) < len("HTTP/1.x") && bytes.HasPrefix([]byte("HTTP/1."), p):
		return string(m), string(t), "", nil // version cut short
	default:
		return "", "", "", ErrNotRequest
	}
	return string(m), string(t), string(p), nil
}

// cutLine splits off one CRLF- (or LF-) terminated line; full is false when
// no terminator was found.
func cutLine(b []byte) (line, rest []byte, full bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil, false
	}
	line = b[:i]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, b[i+1:], true
}

func isMethod(b []byte) bool {
	for _, c := range b {
		if c < 'A' || c > 'Z' {
			return false
		}
	}
	return true
}

// isToken reports whether b is an RFC 9110 token (a header name).
func isToken(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
