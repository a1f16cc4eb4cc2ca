// Package exchange turns data, close and process records into HTTP
// exchanges: it keeps a bounded table of connections, reassembles each
// direction, parses it, pairs requests with responses and emits one
// record.Exchange per exchange.
package exchange

import (
	"time"

	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/httpparse"
	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/stream"
)

// Tracker is the exchange stage. It is not safe for concurrent use: one
// goroutine feeds it records in the order they were read.
type Tracker struct {
	opts        Options
	emit        func(*record.Exchange)
	hint        func(conn, gen uint64, dir event.Direction, pos uint64)
	unhint      func(conn uint64)
	muteHint    func(conn, gen uint64)
	conns       map[uint64]*conn
	lru         conn // sentinel: lru.next is the most recently used connection
	free        []*conn
	stats       Stats
	done        stream.Stats // stream counters of connections already removed
	rec         record.Exchange
	respHeaders []record.Header
	respHead    string // the last response's header section
	scratch     pendingReq
	piece       stream.Piece
	// pendingBytes is what every waiting request holds (MaxPendingBytes).
	pendingBytes uint64
	limits       stream.Limits
	// budget bounds what the parsers keep for header sections.
	budget httpparse.Budget
	// resumable remembers connections dropped for idleness or room: one
	// that speaks again resumes where it was instead of reporting its
	// history as a gap. closed remembers connections that closed: their
	// records are late. Apart, so that many closes do not crowd out the
	// connections that may resume.
	resumable, closed droppedMemory
}

// New returns a tracker that calls emit, synchronously, for each exchange;
// the record and everything it points to may be reused after emit returns.
func New(opts Options, emit func(*record.Exchange)) *Tracker {
	opts = opts.withDefaults()
	t := &Tracker{
		opts:  opts,
		emit:  emit,
		conns: make(map[uint64]*conn),
		limits: stream.Limits{
			MaxBufferedBytes: opts.MaxBufferedBytes,
			MaxPieces:        maxHeldPieces,
			WindowNs:         uint64(opts.ReorderWindow / time.Nanosecond),
		},
	}
	t.lru.next, t.lru.prev = &t.lru, &t.lru
	t.budget.Max = int64(opts.MaxRetainedBytes)
	return t
}

// SkipHint sets fn to be told, for a body with more than 4 KiB still to
// come and nothing more to capture from it, the stream position up to which
// bytes of that generation of the connection are body the parser will not
// read.
func (t *Tracker) SkipHint(fn func(conn, gen uint64, dir event.Direction, pos uint64)) { t.hint = fn }

// MuteHint sets fn to be told of a connection found not to be HTTP: the
// kernel side need send nothing more of generation gen of connection conn,
// in either direction.
func (t *Tracker) MuteHint(fn func(conn, gen uint64)) { t.muteHint = fn }

// SkipForget sets fn to be told, at the close of a connection that was
// given skip hints, that they are no longer needed. The kernel side forgets
// a connection's skips at the close it sees; a hint given after that (user
// space reads records up to a poll later) would stay until evicted.
func (t *Tracker) SkipForget(fn func(conn uint64)) { t.unhint = fn }

// Data takes one data record. d.Captured is only read during the call.
func (t *Tracker) Data(d *event.Data) {
	t.stats.Records++
	if d.Dir > event.Send {
		return
	}
	c := t.lookup(d)
	if c == nil {
		t.stats.StaleRecords++
		return
	}
	at := d.EndNs
	if d.Dir == event.Send {
		at = d.StartNs
	}
	if at > c.lastAt {
		c.lastAt = at
	}
	if c.pid != d.PID {
		c.multiPID = true
	}
	if c.stopped || !c.opened && c.opening(d) {
		return
	}
	t.piece = stream.Piece{
		Pos: d.Pos, Bytes: d.Bytes, CapturedOff: d.CapturedOff, Data: d.Captured,
		Meta: stream.Meta{At: at, PID: d.PID, TID: d.TID, FD: d.FD, Comm: d.Comm, Cont: d.Part != 0},
	}
	dr := &c.dirs[d.Dir]
	dr.seen = true
	if e := d.Pos + uint64(d.Bytes); e > dr.end {
		dr.end = e
	}
	if d.Unseen > maxUnseen {
		t.stats.UnseenImplausible++
	} else if d.Unseen > 0 {
		t.pushUnseen(dr, d.Pos-d.Unseen, d.Unseen, t.piece.Meta)
	}
	dr.s.Push(&t.piece, dr)
	t.piece.Data = nil
	if t.hint != nil && !c.stopped {
		c.proto.hint(dr)
	}
}

// Close takes the last close of a connection: bytes moved after its last
// record are passed on as unseen, what waits is passed on, a body that runs
// to the close completes, requests left are incomplete.
func (t *Tracker) Close(cl *event.Close) {
	c := t.conns[cl.Conn]
	if c == nil || c.gen != cl.Gen {
		// Dropped for idleness or room before its close came: it cannot
		// resume any more, and its late records are late.
		if was, ok := t.resumable.lookup(cl.Conn, cl.Gen); ok {
			t.resumable.forget(cl.Conn)
			t.closed.add(was)
			if was.hinted && t.unhint != nil {
				t.unhint(cl.Conn)
			}
		}
		return
	}
	if c.gaveSkips && t.unhint != nil {
		t.unhint(c.id)
	}
	if !c.stopped {
		for i := range c.dirs {
			if dr := &c.dirs[i]; cl.EndPos[i] > dr.end && cl.EndPos[i]-dr.end <= maxUnseen {
				t.pushUnseen(dr, dr.end, cl.EndPos[i]-dr.end, stream.Meta{At: cl.TimestampNs, PID: cl.PID, TID: cl.TID, FD: cl.FD})
				dr.end = cl.EndPos[i]
			}
		}
	}
	t.stats.ConnsClosed++
	t.remove(c, &t.closed)
}

// ProcExit closes the connections only process pid used (best effort: a
// socket shared with another process stays).
func (t *Tracker) ProcExit(pid uint32, nowNs uint64) {
	for c := t.lru.next; c != &t.lru; {
		next := c.next
		if c.pid == pid && !c.multiPID {
			t.stats.ConnsClosed++
			t.remove(c, nil)
		}
		c = next
	}
}

// Tick runs timers: holes older than the reorder window become gaps,
// requests older than ExchangeTimeout are logged incomplete, connections
// idle longer than IdleTimeout are dropped. nowNs is monotonic, the clock
// of the records.
func (t *Tracker) Tick(nowNs uint64) {
	idle := uint64(t.opts.IdleTimeout / time.Nanosecond)
	timeout := uint64(t.opts.ExchangeTimeout / time.Nanosecond)
	for c := t.lru.next; c != &t.lru; {
		next := c.next
		if c.lastAt+idle <= nowNs {
			t.stats.ConnsIdle++
			t.remove(c, &t.resumable)
			c = next
			continue
		}
		for i := range c.dirs {
			dr := &c.dirs[i]
			if dr.s.Waiting() {
				dr.s.Expire(nowNs, dr)
			}
		}
		c.expire(nowNs, timeout)
		c = next
	}
}

// Flush ends the run: every connection is closed as if its close record had
// come, so pending requests are logged incomplete.
func (t *Tracker) Flush(nowNs uint64) {
	for t.lru.next != &t.lru {
		t.remove(t.lru.next, nil)
	}
}

// Stats returns the counters.
func (t *Tracker) Stats() Stats {
	s := t.stats
	st := t.done
	for c := t.lru.next; c != &t.lru; c = c.next {
		s.SkippedBytes += c.dirs[0].p.Skipped + c.dirs[1].p.Skipped
		addStream(&st, &c.dirs[0].s.Stats)
		addStream(&st, &c.dirs[1].s.Stats)
	}
	s.Gaps, s.BytesNotSeen, s.BytesNotCaptured = st.Gaps, st.Lost, st.NotCaptured
	s.LateRecords, s.HolesForced, s.BytesUnseen = st.Late, st.Forced, st.Unseen
	s.HeadersOverBudget = t.budget.Refused
	return s
}

// pushUnseen passes on n bytes at pos that the socket moved with no record,
// in pieces a Piece's 32-bit length can hold.
func (t *Tracker) pushUnseen(dr *dir, pos, n uint64, m stream.Meta) {
	for n > 0 {
		k := min(n, 1<<31)
		dr.s.Push(&stream.Piece{Pos: pos, Bytes: uint32(k), Unseen: true, Meta: m}, dr)
		pos, n = pos+k, n-k
	}
}

func addStream(to, s *stream.Stats) {
	to.Gaps += s.Gaps
	to.Lost += s.Lost
	to.NotCaptured += s.NotCaptured
	to.Late += s.Late
	to.Forced += s.Forced
	to.Unseen += s.Unseen
}

// lookup finds the record's connection, adding it (and evicting the least
// recently used one when the table is full) if it is new. A record of a
// newer generation than the connection's is another connection on the
// same id: the old one ends. A record of an older generation, or of a
// connection that closed, comes after its connection ended: nil.
func (t *Tracker) lookup(d *event.Data) *conn {
	// A request and its response come one after the other: the most
	// recently used connection is often the one.
	c := t.lru.next
	if c == &t.lru || c.id != d.Conn {
		c = t.conns[d.Conn]
	}
	if c != nil && c.gen != d.Gen {
		if d.Gen < c.gen {
			return nil
		}
		t.stats.ConnsReplaced++
		t.remove(c, nil)
		c = nil
	}
	switched := false
	if c != nil && c.source != d.Source {
		if d.Source != event.SourceTLS {
			// The kernel sends a TLS connection's socket bytes no more
			// once it knows it is TLS: late ones are stale.
			return nil
		}
		// The connection turned out to be TLS after bytes of its socket
		// were sent: its plaintext is a stream of its own, joined late.
		t.stats.ConnsSwitchedTLS++
		t.remove(c, nil)
		c, switched = nil, true
	}
	if c != nil {
		if d.Flags&event.ConnAdopted != 0 {
			c.adopted = true
		}
		if t.lru.next != c {
			c.unlink()
			t.pushFront(c)
		}
		return c
	}
	if _, closed := t.closed.lookup(d.Conn, d.Gen); closed {
		return nil
	}
	was, known := t.resumable.lookup(d.Conn, d.Gen)
	if len(t.conns) >= t.opts.MaxConns {
		t.stats.ConnsEvicted++
		t.remove(t.lru.prev, &t.resumable)
	}
	if n := len(t.free); n > 0 {
		c, t.free = t.free[n-1], t.free[:n-1]
	} else {
		c = new(conn)
	}
	if switched || (d.Source == event.SourceTLS && d.Gen < t.opts.TLSReadyNs) {
		d.Flags |= event.ConnAdopted
	}
	c.reset(t, d)
	if known {
		t.resumable.forget(d.Conn)
		t.stats.ConnsResumed++
		c.resume(was)
	}
	t.conns[d.Conn] = c
	t.pushFront(c)
	t.stats.ConnsOpened++
	return c
}

func (t *Tracker) pushFront(c *conn) {
	c.prev, c.next = &t.lru, t.lru.next
	t.lru.next.prev = c
	t.lru.next = c
}

func (c *conn) unlink() {
	c.prev.next, c.next.prev = c.next, c.prev
	c.prev, c.next = nil, nil
}

// remove closes a connection and returns it to the free list; memory, if
// not nil, remembers where it ended.
func (t *Tracker) remove(c *conn, memory *droppedMemory) {
	c.close()
	if memory != nil {
		memory.remember(c)
	}
	addStream(&t.done, &c.dirs[0].s.Stats)
	addStream(&t.done, &c.dirs[1].s.Stats)
	t.stats.SkippedBytes += c.dirs[0].p.Skipped + c.dirs[1].p.Skipped
	delete(t.conns, c.id)
	c.unlink()
	// What the connection kept goes back: parsers and streams down to
	// their floors, and the connection itself to the free list while it
	// has room.
	for i := range c.dirs {
		c.dirs[i].p.Release()
		c.dirs[i].s.Release()
	}
	if len(t.free) < maxFreeConns {
		t.free = append(t.free, c)
	}
}
