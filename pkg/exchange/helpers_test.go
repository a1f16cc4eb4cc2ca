// Test helpers: data records built by hand for one connection, and the
// records the tracker emits, copied.
package exchange

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/record"
)

var (
	serverAddr = netip.MustParseAddrPort("127.0.0.1:8080")
	clientAddr = netip.MustParseAddrPort("127.0.0.1:40000")
)

// world is a tracker and the records it emitted.
type world struct {
	t    testing.TB
	tr   *Tracker
	recs []record.Exchange
	now  uint64
}

func newWorld(t testing.TB, opts Options) *world {
	w := &world{t: t, now: 1_000_000}
	w.tr = New(opts, func(r *record.Exchange) {
		c := *r
		c.Headers = slices.Clone(r.Headers)
		c.ResponseHeaders = slices.Clone(r.ResponseHeaders)
		c.RequestBody = slices.Clone(r.RequestBody)
		c.ResponseBody = slices.Clone(r.ResponseBody)
		w.recs = append(w.recs, c)
	})
	return w
}

// hint is a skip hint the tracker gave; a mute is one with mute set.
type hint struct {
	conn uint64
	dir  event.Direction
	pos  uint64
	mute bool
}

// collectHints makes w's tracker give its skip hints and mutes to the list
// returned.
func (w *world) collectHints() *[]hint {
	var hints []hint
	w.tr.SkipHint(func(conn, gen uint64, dir event.Direction, pos uint64) {
		hints = append(hints, hint{conn, dir, pos, false})
	})
	w.tr.MuteHint(func(conn, gen uint64) { hints = append(hints, hint{conn: conn, mute: true}) })
	return &hints
}

// peer is one connection seen from the traced process.
type peer struct {
	w     *world
	id    uint64
	pid   uint32
	flags uint8
	local netip.AddrPort
	rem   netip.AddrPort
	pos   [2]uint64
	gen   uint64
	// pending are bytes moved unseen before the next record (unseen).
	pending [2]uint64
}

// serverConn is a connection the traced process accepted.
func (w *world) serverConn(id uint64) *peer {
	return &peer{w: w, id: id, pid: 100, flags: event.ConnAccepted, local: serverAddr, rem: clientAddr}
}

// clientConn is a connection the traced process opened.
func (w *world) clientConn(id uint64) *peer {
	return &peer{w: w, id: id, pid: 100, flags: event.ConnConnected, local: clientAddr, rem: serverAddr}
}

// data builds the record of a syscall moving s in direction d, without
// handing it over.
func (p *peer) data(d event.Direction, s string) *event.Data {
	w := p.w
	w.now += 1000
	rec := &event.Data{
		PID: p.pid, TID: p.pid, FD: 5, StartNs: w.now, EndNs: w.now + 500,
		Conn: p.id, Gen: p.gen, Pos: p.pos[d], Bytes: uint32(len(s)), Dir: d, Syscall: event.SysRead,
		Flags: p.flags, Local: p.local, Peer: p.rem, Captured: []byte(s),
	}
	copy(rec.Comm[:], "testproc")
	rec.Unseen, p.pending[d] = p.pending[d], 0
	p.pos[d] += uint64(len(s))
	return rec
}

// send hands over the record of moving s in direction d.
func (p *peer) send(d event.Direction, s string) { p.w.tr.Data(p.data(d, s)) }

// unseen moves n bytes in direction d that no record carries: the next
// record says so, as the kernel side does.
func (p *peer) unseen(d event.Direction, n uint64) { p.pos[d] += n; p.pending[d] += n }

// lose moves s in direction d without a record reaching the tracker.
func (p *peer) lose(d event.Direction, s string) { p.pos[d] += uint64(len(s)) }

// close hands over the connection's close record, with the socket's end
// positions (which cover bytes moved unseen since the last record).
func (p *peer) close() {
	p.w.now += 1000
	p.w.tr.Close(&event.Close{PID: p.pid, TID: p.pid, FD: 5, TimestampNs: p.w.now, Conn: p.id, Gen: p.gen, EndPos: p.pos})
}

// tick advances the clock by d and runs the timers.
func (w *world) tick(d time.Duration) {
	w.now += uint64(d)
	w.tr.Tick(w.now)
}

// summary is a short form of the records: "GET /a 200" per record, with
// flags; requests without response show "-", responses without request "?".
func (w *world) summary() string {
	s := make([]string, len(w.recs))
	for i, r := range w.recs {
		req, resp := "?", "-"
		if r.Method != "" {
			req = r.Method + " " + r.Path
		}
		if r.Status != 0 {
			resp = fmt.Sprint(r.Status)
		}
		s[i] = req + " " + resp
		for _, f := range []struct {
			on   bool
			name string
		}{{r.Gap, "gap"}, {r.Truncated, "trunc"}, {r.Adopted, "adopted"}, {r.Incomplete, "incomplete"}, {r.Unmatched, "unmatched"}} {
			if f.on {
				s[i] += " " + f.name
			}
		}
	}
	return strings.Join(s, "; ")
}

func header(hs []record.Header, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

func get(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n"
}

func ok(body string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

func status(code int) string {
	return fmt.Sprintf("HTTP/1.1 %d X\r\nContent-Length: 0\r\n\r\n", code)
}
