// Early responses: a server that answers before it has read the request's
// whole body.
package exchange

import (
	"strings"
	"testing"
)

// TestEarlyResponse: a final response that comes while the request body
// is still arriving is paired with that request, logged once the request
// ends, with the request's bytes as they were at its end; the keep-alive
// exchange after it pairs as usual.
func TestEarlyResponse(t *testing.T) {
	w := newWorld(t, DefaultOptions())
	c := w.serverConn(1)
	head := "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 65536\r\nExpect: 100-continue\r\n\r\n"
	c.send(in, head)
	c.send(out, status(413))
	c.send(in, strings.Repeat("b", 65536)) // the client sends the body anyway
	c.send(in, get("/next"))
	c.send(out, ok("n"))
	if got := w.summary(); got != "POST /upload 413; GET /next 200" {
		t.Fatalf("records %s", got)
	}
	if r := w.recs[0]; r.RequestBytes != uint64(len(head))+65536 || r.ResponseBytes != uint64(len(status(413))) || r.LatencyNs == 0 {
		t.Fatalf("request %d bytes, response %d, latency %d", r.RequestBytes, r.ResponseBytes, r.LatencyNs)
	}
	if s := w.tr.Stats(); s.EarlyResponses != 1 || s.Unmatched != 0 || s.Incomplete != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestEarlyResponseBodyAbandoned: the client gives up on the body once it
// has the answer and closes: one exchange, with the request bytes seen,
// not incomplete and not unmatched.
func TestEarlyResponseBodyAbandoned(t *testing.T) {
	w := newWorld(t, DefaultOptions())
	c := w.serverConn(1)
	head := "POST /early HTTP/1.1\r\nHost: h\r\nContent-Length: 65536\r\nExpect: 100-continue\r\n\r\n"
	c.send(in, head)
	c.send(out, ok("early"))
	c.close()
	if got := w.summary(); got != "POST /early 200" {
		t.Fatalf("records %s", got)
	}
	if r := w.recs[0]; r.RequestBytes != uint64(len(head)) || r.Incomplete || r.Unmatched {
		t.Fatalf("request %d bytes (want %d), incomplete %v, unmatched %v", r.RequestBytes, len(head), r.Incomplete, r.Unmatched)
	}
}

// TestContinueThenFinal: a 100 Continue is still an interim response, and
// the final one after the body pairs as usual.
func TestContinueThenFinal(t *testing.T) {
	w := newWorld(t, DefaultOptions())
	c := w.serverConn(1)
	c.send(in, "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	c.send(out, "HTTP/1.1 100 Continue\r\n\r\n")
	c.send(in, "hello")
	c.send(out, ok("done"))
	if got := w.summary(); got != "POST /p 200" || w.tr.Stats().EarlyResponses != 0 {
		t.Fatalf("records %s, early %d", got, w.tr.Stats().EarlyResponses)
	}
}

// TestEarlyResponseBodyDropped: the client drops the body once it has the
// answer and sends its next request on the same connection: the request
// ends there, and the next one is found and paired.
func TestEarlyResponseBodyDropped(t *testing.T) {
	w := newWorld(t, DefaultOptions())
	c := w.serverConn(1)
	head := "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\nExpect: 100-continue\r\n\r\n"
	c.send(in, head)
	c.send(out, status(413))
	c.send(in, get("/next"))
	c.send(out, ok("n"))
	if got := w.summary(); got != "POST /upload 413; GET /next 200" {
		t.Fatalf("records %s", got)
	}
	if r := w.recs[0]; r.RequestBytes != uint64(len(head)) {
		t.Fatalf("request %d bytes, want %d", r.RequestBytes, len(head))
	}
}
