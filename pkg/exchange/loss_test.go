// Property tests: lost and reordered records never pair wrongly, random
// bytes yield nothing, and the bounds hold and are counted.
package exchange

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/event"
)

// TestLossNeverPairsWrongly runs keep-alive conversations (one request at
// a time, as nearly all clients do) on both sides, drops and reorders
// records at random, and checks that every paired record carries the
// request's id in its response.
func TestLossNeverPairsWrongly(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	paired := 0
	for round := range 300 {
		w := newWorld(t, DefaultOptions())
		c := w.serverConn(uint64(round + 1))
		reqDir := in
		if round%2 == 1 {
			c = w.clientConn(uint64(round + 1))
			reqDir = out
		}
		c.flags |= uint8(round%4/2) * event.ConnAdopted
		// A record may come after the next one of its direction (records
		// of concurrent syscalls), never after a record it caused.
		var held *event.Data
		pass := func(d event.Direction, s string) {
			if held != nil && held.Dir != d {
				w.tr.Data(held)
				held = nil
			}
			// Cut each message into one to three records.
			for len(s) > 0 {
				n := min(len(s), 1+r.Intn(len(s)+len(s)/2))
				rec := c.data(d, s[:n])
				s = s[n:]
				switch x := r.Intn(40); {
				case x == 0: // lost
				case x == 1 && held == nil: // comes later
					rec.Captured = append([]byte(nil), rec.Captured...)
					held = rec
				default:
					w.tr.Data(rec)
					if held != nil && r.Intn(2) == 0 {
						w.tr.Data(held)
						held = nil
					}
				}
			}
		}
		for i := range 30 {
			id := fmt.Sprint(round*100 + i)
			body := strings.Repeat("b", r.Intn(300))
			if r.Intn(3) == 0 {
				pass(reqDir, "POST /"+id+" HTTP/1.1\r\nX-Id: "+id+"\r\nContent-Length: "+fmt.Sprint(len(body))+"\r\n\r\n"+body)
			} else {
				pass(reqDir, "GET /"+id+" HTTP/1.1\r\nX-Id: "+id+"\r\n\r\n")
			}
			if r.Intn(2) == 0 {
				pass(1-reqDir, "HTTP/1.1 200 OK\r\nX-Id: "+id+"\r\nContent-Length: "+fmt.Sprint(len(body))+"\r\n\r\n"+body)
			} else {
				pass(1-reqDir, "HTTP/1.1 200 OK\r\nX-Id: "+id+"\r\nTransfer-Encoding: chunked\r\n\r\n"+fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(body)+1, body+"x"))
			}
			if r.Intn(5) == 0 {
				w.tick(200 * time.Millisecond)
			}
		}
		if held != nil {
			w.tr.Data(held)
		}
		w.tr.Flush(w.now)
		for _, rec := range w.recs {
			if rec.Incomplete || rec.Unmatched {
				continue
			}
			paired++
			b := header(rec.ResponseHeaders, "x-id")
			if b == "" && rec.Truncated {
				continue // the response's header section was cut by a gap
			}
			if rec.Path != "/"+b {
				t.Fatalf("round %d: %s %s paired with response %q\n%s", round, rec.Method, rec.Path, b, w.summary())
			}
		}
	}
	t.Logf("%d exchanges paired", paired)
	if paired < 3000 {
		t.Fatalf("only %d exchanges paired: loss recovery pairs too little", paired)
	}
}

// TestRandomBytes feeds random data in both directions: no record may come out.
func TestRandomBytes(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	w := newWorld(t, DefaultOptions())
	buf := make([]byte, 2000)
	for i := range 2000 {
		c := w.serverConn(uint64(i%20 + 1))
		c.pos = [2]uint64{uint64(i/20) * 4000, uint64(i/20) * 4000}
		c.flags = uint8(i % 2)
		r.Read(buf)
		if i%3 == 0 {
			for j := range buf {
				buf[j] = "GET / HTTP/1.1\r\n: 200"[int(buf[j])%21]
			}
		}
		c.send(event.Direction(i%2), string(buf[:r.Intn(len(buf))]))
	}
	w.tr.Flush(w.now)
	if len(w.recs) != 0 {
		t.Fatalf("random bytes gave records: %s", w.summary())
	}
}

func TestBounds(t *testing.T) {
	t.Run("connections", func(t *testing.T) {
		w := newWorld(t, Options{MaxConns: 2})
		for id := uint64(1); id <= 3; id++ {
			w.serverConn(id).send(in, get(fmt.Sprint("/", id)))
		}
		if s := w.tr.Stats(); s.ConnsEvicted != 1 || len(w.tr.conns) != 2 {
			t.Fatalf("evicted %d, table %d; want 1, 2", s.ConnsEvicted, len(w.tr.conns))
		}
		if w.summary() != "GET /1 - incomplete" {
			t.Fatalf("records %s, want the evicted request incomplete", w.summary())
		}
	})
	t.Run("pending", func(t *testing.T) {
		w := newWorld(t, Options{MaxPending: 2})
		c := w.serverConn(1)
		c.send(in, get("/1")+get("/2")+get("/3"))
		c.send(out, ok("1")+ok("2")+ok("3"))
		c.send(in, get("/4"))
		c.send(out, ok("4"))
		if s := w.tr.Stats(); s.PendingDropped != 1 {
			t.Fatalf("pending dropped %d, want 1", s.PendingDropped)
		}
		want := "GET /3 - incomplete; GET /1 200; GET /2 200; ? 200 unmatched; GET /4 - incomplete; ? 200 unmatched"
		if got := w.summary(); got != want {
			t.Fatalf("records\n got %s\nwant %s", got, want)
		}
	})
	t.Run("pending bytes", func(t *testing.T) {
		w := newWorld(t, Options{MaxPendingBytes: 2 * len(get("/1"))})
		c := w.serverConn(1)
		c.send(in, get("/1")+get("/2")+get("/3"))
		c.send(out, ok("1")+ok("2")+ok("3"))
		if s := w.tr.Stats(); s.PendingDropped != 1 || w.tr.pendingBytes != 0 {
			t.Fatalf("pending dropped %d, %d bytes held; want 1, 0", s.PendingDropped, w.tr.pendingBytes)
		}
	})
	t.Run("a thousand pipelined", func(t *testing.T) {
		w := newWorld(t, DefaultOptions())
		c := w.serverConn(1)
		var reqs, resps strings.Builder
		for i := range 1000 {
			reqs.WriteString(get(fmt.Sprint("/", i)))
			resps.WriteString(ok(fmt.Sprint(i)))
		}
		c.send(in, reqs.String())
		c.send(out, resps.String())
		if len(w.recs) != 1000 {
			t.Fatalf("%d records, want 1000", len(w.recs))
		}
		for i, rec := range w.recs {
			if rec.Path != fmt.Sprint("/", i) || rec.Status != 200 || rec.Incomplete || rec.Unmatched {
				t.Fatalf("record %d: %s %d incomplete=%v unmatched=%v", i, rec.Path, rec.Status, rec.Incomplete, rec.Unmatched)
			}
		}
		if w.tr.pendingBytes != 0 {
			t.Fatalf("%d bytes still held for waiting requests", w.tr.pendingBytes)
		}
	})
	t.Run("a 64 KiB header line", func(t *testing.T) {
		w := newWorld(t, DefaultOptions())
		c := w.serverConn(1)
		req := "GET /big HTTP/1.1\r\nX-Big: " + strings.Repeat("b", 64<<10) + "\r\n\r\n"
		for i := 0; i < len(req); i += 4096 {
			c.send(in, req[i:min(i+4096, len(req))])
		}
		c.send(out, ok("1"))
		if len(w.recs) != 1 {
			t.Fatalf("records %s", w.summary())
		}
		rec := w.recs[0]
		if rec.Path != "/big" || rec.Status != 200 || !rec.Truncated || rec.Incomplete || rec.RequestBytes != uint64(len(req)) {
			t.Fatalf("record %s %d truncated=%v incomplete=%v bytes=%d, want /big 200 truncated, %d bytes",
				rec.Path, rec.Status, rec.Truncated, rec.Incomplete, rec.RequestBytes, len(req))
		}
	})
	t.Run("buffered bytes", func(t *testing.T) {
		w := newWorld(t, Options{MaxBufferedBytes: 100})
		c := w.serverConn(1)
		first := c.data(in, "GET /a HTTP/1.1\r\n")
		w.tr.Data(c.data(in, "X-Pad: "+strings.Repeat("p", 120)+"\r\n\r\n"))
		w.tr.Data(first) // late: its hole was already declared lost
		s := w.tr.Stats()
		if s.HolesForced != 1 || s.Gaps != 1 || s.LateRecords != 1 || s.BytesNotSeen != uint64(len(first.Captured)) {
			t.Fatalf("stats %+v", s)
		}
	})
	t.Run("idle", func(t *testing.T) {
		w := newWorld(t, Options{IdleTimeout: time.Second})
		w.serverConn(1).send(in, get("/a"))
		w.tick(2 * time.Second)
		if s := w.tr.Stats(); s.ConnsIdle != 1 || len(w.tr.conns) != 0 || w.summary() != "GET /a - incomplete" {
			t.Fatalf("idle %d, table %d, records %s", s.ConnsIdle, len(w.tr.conns), w.summary())
		}
	})
}

func TestSkipHint(t *testing.T) {
	w := newWorld(t, DefaultOptions())
	got := w.collectHints()
	c := w.serverConn(9)
	head := "POST /big HTTP/1.1\r\nContent-Length: 100000\r\n\r\n"
	c.send(in, head+"abc")
	// The kernel skips the rest of the body: one record, nothing captured.
	d := c.data(in, "")
	d.Bytes, d.Captured = 100000-3, nil
	c.pos[in] += uint64(d.Bytes)
	w.tr.Data(d)
	c.send(in, get("/next"))
	c.send(out, ok("")+ok(""))
	want := []hint{{9, in, uint64(len(head)) + 100000, false}}
	if fmt.Sprint((*got)) != fmt.Sprint(want) {
		t.Fatalf("(*got) %v, want %v", (*got), want)
	}
	if got := w.summary(); got != "POST /big 200; GET /next 200" {
		t.Fatalf("records %s", got)
	}
	if w.recs[0].RequestBytes != uint64(len(head))+100000 {
		t.Fatalf("request bytes %d", w.recs[0].RequestBytes)
	}
}
