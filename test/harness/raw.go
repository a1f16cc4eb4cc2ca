package harness

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// RawConn is a client connection driven by hand: the test writes exact
// bytes and learns exactly how many bytes each response took on the wire.
type RawConn struct {
	Conn net.Conn
	cr   *countReader
	br   *bufio.Reader
}

// countReader counts the bytes read from the connection.
type countReader struct {
	r io.Reader
	n int64
}

// Read reads from the connection and counts what came.
func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// DialRaw opens a raw connection to addr.
func DialRaw(t testing.TB, addr string) *RawConn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatalf("dialing %s: %v", addr, err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { conn.Close() })
	cr := &countReader{r: conn}
	return &RawConn{Conn: conn, cr: cr, br: bufio.NewReader(cr)}
}

// Send writes bytes in one write.
func (c *RawConn) Send(t testing.TB, s string) {
	t.Helper()
	if _, err := io.WriteString(c.Conn, s); err != nil {
		t.Fatalf("writing to %s: %v", c.Conn.RemoteAddr(), err)
	}
}

// consumed is how many bytes the responses read so far took.
func (c *RawConn) consumed() int64 { return c.cr.n - int64(c.br.Buffered()) }

// RawAnswer is one response as read off the wire.
type RawAnswer struct {
	Answer
	Header http.Header
	Body   string
	Bytes  int64 // status line, headers and body as sent
	// Chunked is set when the body came with Transfer-Encoding: chunked.
	Chunked bool
}

// Read reads one response (to a request of the method: HEAD has no body)
// with its body, and returns it with its size on the wire.
func (c *RawConn) Read(t testing.TB, method string) RawAnswer {
	t.Helper()
	before := c.consumed()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading a response from %s: %v", c.Conn.RemoteAddr(), err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading a response body from %s: %v", c.Conn.RemoteAddr(), err)
	}
	chunked := len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
	return RawAnswer{Answer: answerOf(resp), Header: resp.Header, Body: string(body),
		Bytes: c.consumed() - before, Chunked: chunked}
}

// ReadToEOF reads until the server closes and returns how many bytes came.
func (c *RawConn) ReadToEOF(t testing.TB) int64 {
	t.Helper()
	before := c.consumed()
	if _, err := io.Copy(io.Discard, c.br); err != nil {
		t.Fatalf("reading from %s: %v", c.Conn.RemoteAddr(), err)
	}
	return c.consumed() - before
}

// Close closes the connection.
func (c *RawConn) Close() { c.Conn.Close() }

// RequestText is an HTTP/1.1 request with the id header first (so a header
// section cut short still names the request) and extra header lines after.
func RequestText(method, path, id string, extra ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: localhost\r\n%s: %s\r\n", method, path, IDHeader, id)
	for _, h := range extra {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// Exchange sends one request on the connection, reads its response, and
// returns what the test expects httptrace to log for it.
func (c *RawConn) Exchange(t testing.TB, method, path, id string, extra ...string) Sent {
	t.Helper()
	req := RequestText(method, path, id, extra...)
	c.Send(t, req)
	got := c.Read(t, method)
	return c.Sent(method, path, id, int64(len(req)), got)
}

// Sent is what the test expects for a request it sent on this connection.
func (c *RawConn) Sent(method, path, id string, reqBytes int64, got RawAnswer) Sent {
	return Sent{ID: id, Method: method, Path: path, Answer: got.Answer,
		RequestBytes: reqBytes, ResponseBytes: got.Bytes,
		Server: c.Conn.RemoteAddr().String(), Client: c.Conn.LocalAddr().String()}
}
