// Stream integrity: bytes the socket moved unseen, connection generations,
// and connections resumed after they idled out.
package exchange

import (
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/event"
)

// TestUnseenBody: a response body moved by splice (no record carries it)
// is passed on as not captured, so the exchange and the keep-alive one
// after it pair with their statuses, and the bytes are counted apart from
// gaps.
func TestUnseenBody(t *testing.T) {
	w := newWorld(t, DefaultOptions())
	c := w.serverConn(1)
	c.send(in, get("/big"))
	c.send(out, "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n")
	c.unseen(out, 300000)
	c.send(in, get("/small"))
	c.send(out, ok("hi"))
	if got := w.summary(); got != "GET /big 200; GET /small 200" {
		t.Fatalf("records %s", got)
	}
	s := w.tr.Stats()
	if s.BytesUnseen != 300000 || s.Gaps != 0 || s.BytesNotSeen != 0 {
		t.Fatalf("unseen %d, gaps %d, not seen %d", s.BytesUnseen, s.Gaps, s.BytesNotSeen)
	}
	if w.recs[0].ResponseBytes != uint64(len("HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n"))+300000 {
		t.Fatalf("response bytes %d", w.recs[0].ResponseBytes)
	}
}

// TestUnseenHead: unseen bytes where a header section was are not parsed
// as anything: the exchange they hid is lost to pairing, never paired with
// the wrong response.
func TestUnseenHead(t *testing.T) {
	w := newWorld(t, DefaultOptions())
	c := w.serverConn(1)
	c.send(in, get("/a"))
	c.send(out, ok("a"))
	c.unseen(in, uint64(len(get("/hidden"))))
	c.unseen(out, uint64(len(status(404))))
	c.send(in, get("/b"))
	c.send(out, ok("b"))
	for _, r := range w.recs {
		if r.Path == "/b" && r.Status != 200 && r.Status != 0 {
			t.Fatalf("/b paired with status %d: %s", r.Status, w.summary())
		}
		if r.Status == 404 {
			t.Fatalf("the hidden response was parsed: %s", w.summary())
		}
	}
	if !strings.HasPrefix(w.summary(), "GET /a 200") {
		t.Fatalf("records %s", w.summary())
	}
}

// TestGenerations: a record of a newer generation on the same id is a new
// connection (the old one's request ends incomplete, no false gap), a
// record of the older one after that is dropped, and a close of another
// generation closes nothing.
func TestGenerations(t *testing.T) {
	w := newWorld(t, DefaultOptions())
	old := w.serverConn(1)
	old.gen = 10
	old.send(in, get("/old"))
	renewed := w.serverConn(1)
	renewed.gen = 20
	renewed.send(in, get("/new"))
	old.send(out, ok("late"))
	old.close()
	renewed.send(out, ok("new"))
	if got := w.summary(); got != "GET /old - incomplete; GET /new 200" {
		t.Fatalf("records %s", got)
	}
	s := w.tr.Stats()
	if s.ConnsReplaced != 1 || s.StaleRecords != 1 || s.Gaps != 0 || len(w.tr.conns) != 1 {
		t.Fatalf("replaced %d, stale %d, gaps %d, table %d", s.ConnsReplaced, s.StaleRecords, s.Gaps, len(w.tr.conns))
	}
	renewed.close()
	if len(w.tr.conns) != 0 {
		t.Fatalf("the close of generation 20 left %d connections", len(w.tr.conns))
	}
}

// TestIdleResume: a connection dropped for idleness that speaks again
// resumes at its positions: its history is not a gap, and its next
// exchange is logged with its status.
func TestIdleResume(t *testing.T) {
	w := newWorld(t, Options{IdleTimeout: time.Second})
	c := w.serverConn(1)
	c.send(in, get("/a"))
	c.send(out, ok(strings.Repeat("x", 5000)))
	w.tick(2 * time.Second)
	c.flags = event.ConnAdopted // the kernel side keeps its flags; user space lost its state
	c.send(in, get("/b"))
	c.send(out, ok("b"))
	c.send(in, get("/c"))
	c.send(out, ok("c"))
	w.tr.Flush(w.now)
	s := w.tr.Stats()
	if s.ConnsIdle != 1 || s.ConnsResumed != 1 || s.Gaps != 0 || s.BytesNotSeen != 0 {
		t.Fatalf("idle %d, resumed %d, gaps %d, not seen %d", s.ConnsIdle, s.ConnsResumed, s.Gaps, s.BytesNotSeen)
	}
	if got := w.summary(); !strings.HasPrefix(got, "GET /a 200; ") || !strings.Contains(got, "GET /c 200") {
		t.Fatalf("records %s", got)
	}
}

// TestUnseenTail: a last response whose body moved unseen completes at the
// close, whose end positions say how far the socket got; a close that
// knows no more than the records changes nothing.
func TestUnseenTail(t *testing.T) {
	w := newWorld(t, DefaultOptions())
	c := w.serverConn(1)
	c.send(in, get("/a"))
	c.send(out, "HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n")
	c.unseen(out, 70000)
	c.close()
	if got := w.summary(); got != "GET /a 200" {
		t.Fatalf("records %s", got)
	}
	if s := w.tr.Stats(); s.BytesUnseen != 70000 || s.Gaps != 0 {
		t.Fatalf("unseen %d, gaps %d", s.BytesUnseen, s.Gaps)
	}
}

// TestLateAfterClose: a record of a connection's generation that comes
// after its close (it was reordered) is dropped, not made a new connection.
func TestLateAfterClose(t *testing.T) {
	w := newWorld(t, DefaultOptions())
	c := w.serverConn(1)
	c.gen = 5
	c.send(in, get("/a"))
	c.send(out, ok("a"))
	late := c.data(out, "HTTP/1.1 200 OK\r\n")
	c.close()
	w.tr.Data(late)
	if s := w.tr.Stats(); s.StaleRecords != 1 || len(w.tr.conns) != 0 || w.summary() != "GET /a 200" {
		t.Fatalf("stale %d, table %d, records %s", s.StaleRecords, len(w.tr.conns), w.summary())
	}
}

// TestEvictResume: a connection evicted for room that speaks again resumes
// at its positions (no gap the size of its history), and a close after the
// resume that knows no more than the records adds nothing.
func TestEvictResume(t *testing.T) {
	w := newWorld(t, Options{MaxConns: 1})
	a := w.serverConn(1)
	a.send(in, get("/a1"))
	a.send(out, ok(strings.Repeat("x", 3000)))
	b := w.serverConn(2)
	b.send(in, get("/b"))
	b.send(out, ok("b"))
	a.send(in, get("/a2"))
	a.send(out, ok("a2"))
	a.send(in, get("/a3"))
	a.send(out, ok("a3"))
	a.close()
	s := w.tr.Stats()
	if s.ConnsEvicted < 1 || s.ConnsResumed < 1 || s.Gaps != 0 || s.BytesNotSeen != 0 || s.LateRecords != 0 || s.BytesUnseen != 0 {
		t.Fatalf("stats %+v", s)
	}
	if got := w.summary(); !strings.Contains(got, "GET /a1 200") || !strings.Contains(got, "GET /b 200") ||
		!strings.Contains(got, "GET /a3 200") {
		t.Fatalf("records %s", got)
	}
}

// TestHeadWhileUnsure: on a connection picked up mid-stream, requests are
// logged unpaired until it is in step, but their kinds still frame the
// responses: the answer to a HEAD health check has no body whatever its
// Content-Length says, so the responses after it are not read as its body,
// and no skip hint stops the kernel from copying them.
func TestHeadWhileUnsure(t *testing.T) {
	w := newWorld(t, DefaultOptions())
	var hints int
	w.tr.SkipHint(func(conn, gen uint64, dir event.Direction, pos uint64) { hints++ })
	c := w.serverConn(1)
	c.flags = event.ConnAdopted
	c.send(out, "ing a response whose request came before tracing\r\n") // the tail of an earlier response
	head := "HTTP/1.1 200 OK\r\nContent-Length: 50000\r\n\r\n"
	for range 3 {
		c.send(in, "HEAD /health HTTP/1.1\r\nHost: h\r\n\r\n")
		c.send(out, head)
	}
	c.send(in, get("/a"))
	c.send(out, ok("a"))
	w.tr.Flush(w.now)
	statuses := 0
	for _, r := range w.recs {
		if r.Status == 200 {
			statuses++
		}
	}
	if statuses < 4 || hints != 0 {
		t.Fatalf("%d responses with status 200 (want 4), %d skip hints (want 0): %s", statuses, hints, w.summary())
	}
}

// TestRetainedBudget: connections that leave long header sections hanging
// hold no more than MaxRetainedBytes between them beyond their floors (the
// rest are truncated), and give it all back when they close.
func TestRetainedBudget(t *testing.T) {
	w := newWorld(t, Options{MaxRetainedBytes: 64 << 10})
	var head strings.Builder
	head.WriteString("GET /hang HTTP/1.1\r\n")
	for i := 0; head.Len() < 12<<10; i++ {
		head.WriteString("X-Pad: " + strings.Repeat("p", 100) + "\r\n")
	}
	peers := make([]*peer, 64)
	for i := range peers {
		peers[i] = w.serverConn(uint64(i + 1))
		peers[i].send(in, head.String())
	}
	if used := w.tr.budget.Used(); used > 64<<10 || w.tr.Stats().HeadersOverBudget == 0 {
		t.Fatalf("held %d bytes (budget %d), %d header lines over budget", used, 64<<10, w.tr.Stats().HeadersOverBudget)
	}
	for _, p := range peers {
		p.close()
	}
	if used := w.tr.budget.Used(); used != 0 {
		t.Fatalf("%d bytes still held after every connection closed", used)
	}
}

// TestUnseenImplausible: a record that says more moved unseen before it
// than any real stretch is counted and its claim left out, not passed on
// (a count gone wrong would otherwise be a stretch of terabytes).
func TestUnseenImplausible(t *testing.T) {
	w := newWorld(t, DefaultOptions())
	c := w.serverConn(1)
	c.send(in, get("/a"))
	c.pos[out] += 1 << 41
	d := c.data(out, ok("a"))
	d.Unseen = 1 << 41
	w.tr.Data(d)
	if s := w.tr.Stats(); s.UnseenImplausible != 1 || s.BytesUnseen != 0 {
		t.Fatalf("implausible %d, unseen %d", s.UnseenImplausible, s.BytesUnseen)
	}
}

// TestResumeTunnel: a tunnel dropped for idleness that speaks again stays
// unparsed: its bytes are not HTTP.
func TestResumeTunnel(t *testing.T) {
	w := newWorld(t, Options{IdleTimeout: time.Second})
	c := w.serverConn(1)
	c.send(in, "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	c.send(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
	w.tick(2 * time.Second)
	c.send(in, get("/inside-the-tunnel"))
	c.send(out, ok("x"))
	w.tr.Flush(w.now)
	if got := w.summary(); got != "GET /ws 101" {
		t.Fatalf("records %s", got)
	}
}
