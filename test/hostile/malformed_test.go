// Malformed traffic: random bytes, a 64 KiB header line, a slowloris
// half-request and invalid chunk sizes.
package hostile

import (
	"fmt"
	"math/rand"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// hostileConn is one connection a case abuses, and what its client saw.
type hostileConn struct {
	conn net.Conn
	view view
	// keep is an exchange on it that was whole and must be logged right.
	keep    *harness.Sent
	payload []byte // what the case sends
	open    bool   // the request never ends
}

// newHostileConn dials the target and starts the connection's view.
func newHostileConn(t *testing.T, tg target) *hostileConn {
	t.Helper()
	v := newView()
	c := dial(t, tg.addr)
	v.client, v.server = c.LocalAddr().String(), c.RemoteAddr().String()
	return &hostileConn{conn: c, view: v}
}

// sendAndDrain writes payload (errors are expected: the server may close
// first), ends the client's side (so the server sees the end and the
// client sees whatever the server answers to it), reads until the server
// closes or hold passes, closes, and notes the statuses received. method
// is what answers are to.
func (hc *hostileConn) sendAndDrain(payload []byte, method string, hold time.Duration) {
	hc.conn.Write(payload)
	hc.conn.(*net.TCPConn).CloseWrite()
	got := drain(hc.conn, hold)
	hc.conn.Close()
	hc.view.statuses, _ = statusesIn(got, method)
}

// runAll runs fn for every connection at once and waits for them.
func runAll(conns []*hostileConn, fn func(*hostileConn)) {
	var wg sync.WaitGroup
	for _, hc := range conns {
		wg.Add(1)
		go func(hc *hostileConn) {
			defer wg.Done()
			fn(hc)
		}(hc)
	}
	wg.Wait()
}

// judgeAll waits (bounded) for the connections' records and judges them;
// exchanges kept whole are checked like any well-formed one.
func (h *hostile) judgeAll(t *testing.T, conns []*hostileConn, wait time.Duration) [][]harness.Record {
	t.Helper()
	var views []view
	var keep []harness.Sent
	for _, hc := range conns {
		views = append(views, hc.view)
		if hc.keep != nil {
			keep = append(keep, *hc.keep)
		}
	}
	if len(keep) > 0 {
		h.expect(t, keep)
	}
	recs := h.settle(t, wait, views)
	var out [][]harness.Record
	for _, v := range views {
		out = append(out, judge(t, recs, v))
	}
	return out
}

// answeredWhole takes, for connections with one request line and one
// answer, that exchange as whole: the server that answered decided where
// the request ended, and a record that agrees with the answer is right.
func answeredWhole(conns []*hostileConn) {
	for _, hc := range conns {
		if hc.keep == nil && !hc.open && len(hc.view.requests) == 1 && len(hc.view.statuses) == 1 {
			r := hc.view.requests[0]
			hc.view.complete = []harness.Sent{{Method: r.method, Path: r.path, Answer: harness.Answer{Status: hc.view.statuses[0]}}}
		}
	}
}

// randomBytes is n pseudo-random bytes from a fixed seed; noNewline leaves
// out CR and LF so no line ever ends.
func randomBytes(seed int64, n int, noNewline bool) []byte {
	r := rand.New(rand.NewSource(seed))
	b := make([]byte, n)
	for i := range b {
		for {
			b[i] = byte(r.Intn(256))
			if !noNewline || (b[i] != '\r' && b[i] != '\n') {
				break
			}
		}
	}
	return b
}

// caseRandomBytes writes several KiB of random bytes on several connections
// per target: alone, without any line end, after a request line, and after
// a whole request (which must still be logged right).
func caseRandomBytes(t *testing.T, h *hostile) {
	var conns []*hostileConn
	for ti, tg := range h.targets {
		for v := 0; v < 5; v++ {
			hc := newHostileConn(t, tg)
			seed := int64(100*ti + v)
			var payload []byte
			switch v {
			case 0:
				payload = randomBytes(seed, 4<<10, false)
			case 1:
				payload = randomBytes(seed, 16<<10, false)
			case 2:
				payload = randomBytes(seed, 6<<10, true)
			case 3:
				path := tg.okPath(harness.NewID("rnd"))
				payload = append([]byte("GET "+path+" HTTP/1.1\r\n"), randomBytes(seed, 8<<10, false)...)
				hc.view.requests = []line{{"GET", path}}
			case 4:
				id := harness.NewID("rnd")
				path := tg.okPath(id)
				req := harness.RequestText("GET", path, id)
				payload = append([]byte(req), randomBytes(seed, 4<<10, false)...)
				hc.view.requests = []line{{"GET", path}}
				hc.keep = &harness.Sent{ID: id, Method: "GET", Path: path, RequestBytes: int64(len(req)),
					Server: hc.view.server, Client: hc.view.client}
			}
			hc.payload = payload
			conns = append(conns, hc)
		}
	}
	runAll(conns, func(hc *hostileConn) { hc.sendAndDrain(hc.payload, "GET", 1500*time.Millisecond) })
	for _, hc := range conns {
		if hc.keep == nil {
			continue
		}
		// The whole request came first: its answer is the first one.
		if len(hc.view.statuses) == 0 || hc.view.statuses[0] != 200 {
			t.Fatalf("%s -> %s: a whole request before random bytes got %v, want 200 first",
				hc.view.client, hc.view.server, hc.view.statuses)
		}
		hc.keep.Status = 200
		hc.view.complete = []harness.Sent{*hc.keep}
	}
	answeredWhole(conns)
	h.judgeAll(t, conns, 2*time.Second)
}

// bigHeaderValue is a header line of 64 KiB.
var bigHeaderValue = "X-Big: " + strings.Repeat("a", 64<<10)

// caseHugeHeaderLine sends a request with a 64 KiB header line, one with a
// 64 KiB path, and one whose 64 KiB header line never ends.
func caseHugeHeaderLine(t *testing.T, h *hostile) {
	var conns []*hostileConn
	for _, tg := range h.targets {
		// A whole request with a 64 KiB header line. The Go server reads
		// it all and answers 200: logged right (truncated allowed). nginx
		// answers 400 before it has read it: judged like any hostile one.
		id := harness.NewID("bighdr")
		path := tg.okPath(id)
		req := harness.RequestText("GET", path, id, bigHeaderValue)
		if tg.name == "go" {
			c := harness.DialRaw(t, tg.addr)
			c.Send(t, req)
			s := c.Sent("GET", path, id, int64(len(req)), c.Read(t, "GET"))
			s.AnyTruncated = true
			c.Close()
			h.expect(t, []harness.Sent{s})
		} else {
			hc := newHostileConn(t, tg)
			hc.view.requests = []line{{"GET", path}}
			hc.payload = []byte(req)
			conns = append(conns, hc)
		}

		// A 64 KiB path: the record's path may be cut only when flagged.
		hc := newHostileConn(t, tg)
		id = harness.NewID("bigpath")
		path = tg.okPath(id) + "/" + strings.Repeat("p", 64<<10)
		hc.view.requests = []line{{"GET", path}}
		hc.payload = []byte(harness.RequestText("GET", path, id))
		conns = append(conns, hc)

		// A 64 KiB header line that never ends: never a whole exchange.
		hc = newHostileConn(t, tg)
		id = harness.NewID("bigopen")
		path = tg.okPath(id)
		hc.view.requests = []line{{"GET", path}}
		hc.payload = []byte(strings.TrimSuffix(harness.RequestText("GET", path, id, bigHeaderValue), "\r\n\r\n"))
		hc.open = true
		conns = append(conns, hc)
	}
	runAll(conns, func(hc *hostileConn) { hc.sendAndDrain(hc.payload, "GET", time.Second) })
	answeredWhole(conns)
	for i, recs := range h.judgeAll(t, conns, 2*time.Second) {
		if conns[i].open {
			mustBeIncomplete(t, recs)
		}
	}
}

// mustBeIncomplete fails for any record of a request that never ended that
// is not flagged incomplete.
func mustBeIncomplete(t *testing.T, recs []harness.Record) {
	t.Helper()
	for _, r := range recs {
		if !r.Incomplete && !r.Unmatched {
			t.Errorf("a request that never ended is logged without incomplete: %s", r.Line)
		}
	}
}

// caseSlowloris trickles request headers byte by byte on three connections
// per target, never ends them, holds them a few seconds and closes them.
// Meanwhile well-formed exchanges go on; the half-requests are logged as
// incomplete or not at all.
func caseSlowloris(t *testing.T, h *hostile) {
	const perTarget, step = 3, 30 * time.Millisecond
	var conns []*hostileConn
	for _, tg := range h.targets {
		for i := 0; i < perTarget; i++ {
			hc := newHostileConn(t, tg)
			id := harness.NewID("loris")
			path := tg.okPath(id)
			hc.view.requests = []line{{"GET", path}}
			hc.payload = []byte(harness.RequestText("GET", path, id, "X-Slow: "+strings.Repeat("s", 20)))
			hc.payload = hc.payload[:len(hc.payload)-4] // no end of headers
			conns = append(conns, hc)
		}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runAll(conns, func(hc *hostileConn) {
			for _, b := range hc.payload {
				if _, err := hc.conn.Write([]byte{b}); err != nil {
					break
				}
				time.Sleep(step)
			}
			hc.sendAndDrain(nil, "GET", time.Second)
		})
	}()
	// Well-formed traffic while the half-requests hang.
	time.Sleep(500 * time.Millisecond)
	for _, tg := range h.targets {
		h.followUp(t, tg)
	}
	<-done
	for _, hc := range conns {
		if len(hc.view.statuses) > 0 {
			t.Logf("%s answered a half-request with %v", hc.view.server, hc.view.statuses)
		}
	}
	for _, recs := range h.judgeAll(t, conns, 2*time.Second) {
		mustBeIncomplete(t, recs)
	}
}

// badChunkBodies are chunked bodies with invalid (or lying) chunk sizes,
// and one valid body whose data looks like a request.
var badChunkBodies = []struct{ name, body string }{
	{"not-hex", "zz\r\nabc\r\n0\r\n\r\n"},
	{"negative", "-5\r\nabcde\r\n0\r\n\r\n"},
	{"overflow", "ffffffffffffffffffffffff\r\nabc\r\n0\r\n\r\n"},
	{"longer-than-said", "3\r\nabcdefgh\r\n0\r\n\r\n"},
	{"no-size", "\r\nabc\r\n0\r\n\r\n"},
	{"huge-never-sent", "7fffffff\r\nabc"},
	{"request-inside", "%x\r\n%s\r\n0\r\n\r\n"},
}

// caseBadChunks posts chunked bodies with invalid chunk sizes. Whatever the
// server answers, a record agrees with what the client saw, and nothing in
// a body is logged as a request.
func caseBadChunks(t *testing.T, h *hostile) {
	var conns []*hostileConn
	for _, tg := range h.targets {
		for _, bc := range badChunkBodies {
			hc := newHostileConn(t, tg)
			id := harness.NewID("chunk-" + bc.name)
			path := tg.bodyPath(id)
			body := bc.body
			if bc.name == "request-inside" {
				inner := harness.RequestText("GET", "/smuggled/"+id, id+"-inner")
				body = fmt.Sprintf(body, len(inner), inner)
			}
			hc.view.requests = []line{{"POST", path}}
			hc.payload = []byte(harness.RequestText("POST", path, id, "Transfer-Encoding: chunked") + body)
			conns = append(conns, hc)
		}
	}
	runAll(conns, func(hc *hostileConn) { hc.sendAndDrain(hc.payload, "POST", time.Second) })
	answeredWhole(conns)
	h.judgeAll(t, conns, 2*time.Second)
}
