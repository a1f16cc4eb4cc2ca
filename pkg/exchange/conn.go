// One connection: its two directions, each a stream feeding a parser, and
// the side the traced process is on.
package exchange

import (
	"net/netip"
	"strconv"

	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/httpparse"
	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/stream"
)

// dir is one direction of a connection; it is the sink of its stream.
type dir struct {
	c      *conn
	d      event.Direction
	s      stream.Stream
	p      httpparse.Parser
	cur    stream.Meta // the syscall whose bytes are being parsed
	begin  stream.Meta // the syscall that moved the current message's first byte
	headAt uint64      // when the current message's header section was complete
	hinted bool        // a skip hint was given for the current message
	seen   bool        // a record of this direction has arrived
	end    uint64      // the end of the furthest record of this direction
}

// conn is one connection in the table.
type conn struct {
	t   *Tracker
	id  uint64
	gen uint64 // the kernel's generation of the connection (event.Data.Gen)
	// source is where its records come from: a TLS connection's plaintext
	// has positions of its own, apart from the socket's.
	source     event.Source
	prev, next *conn // LRU list
	dirs       [2]dir
	local      netip.AddrPort
	peer       netip.AddrPort
	// unixLocal and unixPeer name a unix-domain connection's ends (its
	// path, or @pid:N for an unnamed socket); "" for TCP.
	unixLocal, unixPeer string
	side                record.Side // empty until known
	client              string
	server              string
	comm                string
	commRaw             [16]byte
	adopted             bool
	pid                 uint32
	multiPID            bool
	lastAt              uint64
	stopped             bool
	opened              bool   // what the connection is has been decided (opening)
	gaveSkips           bool   // a skip hint (or a mute) was given for it
	interim             uint64 // bytes of 1xx responses before the final one
	ambiguous           bool   // a message's framing headers could be read more than one way: no skip hints
	// proto is what the connection speaks: HTTP/1 unless its opening
	// said otherwise; h2 is kept for the next connection's HTTP/2.
	proto protocol
	h2    *h2conn
	// first holds each direction's first bytes while they are too few to
	// tell what the connection is (opening).
	first [2][]byte
	pairing
}

// protocol reads a connection's bytes and logs its exchanges: one
// implementation per protocol, chosen per connection by its opening.
type protocol interface {
	// data takes bytes of dr, in order (dr.cur is the call that moved them).
	data(dr *dir, b []byte)
	// missing takes n bytes of dr moved but not seen: lost, or not captured.
	missing(dr *dir, n uint64, lost bool)
	// hint may tell the kernel side which bytes of dr it need not copy.
	hint(dr *dir)
	// close ends the connection, its directions in order.
	close(c *conn, order [2]*dir)
}

// reset prepares c for the connection of d, keeping its buffers.
func (c *conn) reset(t *Tracker, d *event.Data) {
	dirs, pend, h2, first := c.dirs, c.pending, c.h2, [2][]byte{c.first[0][:0], c.first[1][:0]}
	if cap(pend) > maxKeptPending {
		pend = nil
	}
	*c = conn{t: t, id: d.Conn, gen: d.Gen, source: d.Source, local: d.Local, peer: d.Peer, pid: d.PID, lastAt: d.StartNs}
	c.dirs, c.h2, c.proto, c.first = dirs, h2, http1{}, first
	c.pending = pend[:0]
	c.adopted = d.Flags&event.ConnAdopted != 0
	if d.Unix.Ino != 0 {
		c.unixLocal = t.unixName(d.PID, d.Unix.Ino, d.Unix.PathHash, d.PID)
		c.unixPeer = t.unixName(d.PID, d.Unix.PeerIno, d.Unix.PeerPathHash, d.Unix.PeerPID)
	}
	lim := t.parserLimits()
	for i := range c.dirs {
		dr := &c.dirs[i]
		dr.c, dr.d, dr.hinted, dr.seen, dr.end = c, event.Direction(i), false, false, 0
		// The kernel numbers both streams from 0 when it first sees the
		// connection, adopted or not: a lost first record is a gap.
		dr.s.Reset(t.limits, true)
		dr.p.Reset(lim, c.adopted)
	}
	// An adopted connection may have a response in flight for a request
	// never seen: pair nothing until the connection is known to be in step.
	c.unsure = c.adopted
	switch {
	case d.Flags&event.ConnAccepted != 0:
		c.setSide(record.Server)
	case d.Flags&event.ConnConnected != 0:
		c.setSide(record.Client)
	}
}

// unixName names one end of a unix-domain connection: unix:PATH for a
// socket with a path (an accepted one has its listener's), else
// unix:@pid:N after the process that holds it (when known). The table read
// is that of holder's network namespace (the traced process's, which its
// peer shares).
func (t *Tracker) unixName(holder uint32, ino uint64, hash, pid uint32) string {
	if t.opts.UnixPath != nil {
		if path := t.opts.UnixPath(holder, ino, hash); path != "" {
			return "unix:" + path
		}
	}
	if pid == 0 {
		return "unix:@"
	}
	return "unix:@pid:" + strconv.FormatUint(uint64(pid), 10)
}

// parserLimits are the limits every parser of t gets.
func (t *Tracker) parserLimits() httpparse.Limits {
	return httpparse.Limits{MaxHeaderBytes: t.opts.MaxHeaderBytes, CaptureBodyBytes: t.opts.CaptureBodyBytes, Budget: &t.budget}
}

// setSide fixes which end the traced process is, and with it which
// direction carries requests.
func (c *conn) setSide(s record.Side) {
	c.side = s
	reqs := c.reqDir()
	reqs.p.Want = httpparse.Requests
	c.dirs[1-reqs.d].p.Want = httpparse.Responses
	local, peer := c.local.String(), c.peer.String()
	if c.unixLocal != "" {
		local, peer = c.unixLocal, c.unixPeer
	}
	if s == record.Server {
		c.client, c.server = peer, local
	} else {
		c.client, c.server = local, peer
	}
}

// reqDir is the direction that carries requests: the traced process reads
// them on the server side and writes them on the client side.
func (c *conn) reqDir() *dir {
	if c.side == record.Client {
		return &c.dirs[event.Send]
	}
	return &c.dirs[event.Recv]
}

// respDir is the direction that carries responses.
func (c *conn) respDir() *dir { return &c.dirs[1-c.reqDir().d] }

// isResp reports whether dr carries responses (false while the side is unknown).
func (dr *dir) isResp() bool { return dr.c.side != "" && dr == dr.c.respDir() }

// Data passes bytes the stream passes on in order to the connection's protocol.
func (dr *dir) Data(b []byte, m stream.Meta) {
	dr.cur = m
	dr.c.proto.data(dr, b)
}

// Missing tells the connection's protocol about bytes moved but not seen.
func (dr *dir) Missing(n uint64, lost bool, m stream.Meta) {
	dr.cur = m
	dr.c.proto.missing(dr, n, lost)
}

// http1 is HTTP/1: each direction's parser, requests paired with
// responses in order.
type http1 struct{}

// data parses bytes of dr.
func (http1) data(dr *dir, b []byte) {
	dr.p.RecordBoundary()
	resp := dr.isResp()
	for {
		if resp {
			dr.p.Answers, dr.p.SniffBody = dr.c.answers(), dr.c.unsure
		}
		n, ev := dr.p.Feed(b)
		b = b[n:]
		if ev == httpparse.None {
			return
		}
		dr.c.event(dr, ev)
		if p := dr.c.proto; p != (http1{}) { // upgraded to h2c: the rest is frames
			p.data(dr, b)
			return
		}
		resp = dr.isResp()
	}
}

// missing tells dr's parser about bytes moved but not seen.
func (http1) missing(dr *dir, n uint64, lost bool) {
	for {
		if dr.isResp() {
			dr.p.Answers = dr.c.answers()
		}
		k, ev := dr.p.Skip(n, lost)
		n -= k
		if ev == httpparse.None && n == 0 {
			return
		}
		dr.c.event(dr, ev)
	}
}

// hint gives a skip hint for a long body (maybeHint).
func (http1) hint(dr *dir) { dr.maybeHint() }

// close ends both parsers: bodies that run to the close complete, and
// requests left are logged incomplete.
func (http1) close(c *conn, order [2]*dir) {
	for _, dr := range order {
		for ev := dr.p.Close(); ev != httpparse.None; ev = dr.p.Close() {
			c.event(dr, ev)
		}
	}
	c.dropPending(false)
}

// maybeHint tells the kernel side where a long uncaptured body ends. Not
// while pairing is unsure, nor on a connection whose framing was ambiguous:
// the framing may be wrong, and a wrong hint would keep the kernel from
// copying the messages after it (a smuggled request among them).
func (dr *dir) maybeHint() {
	if dr.hinted || dr.c.unsure || dr.c.ambiguous || !dr.p.CaptureDone() || dr.s.Waiting() {
		return
	}
	if rem, ok := dr.p.BodyRemaining(); ok && rem > skipHintMin {
		dr.hinted, dr.c.gaveSkips = true, true
		dr.c.t.hint(dr.c.id, dr.c.gen, dr.d, dr.s.Next()+rem)
	}
}

// event handles what a parser found.
func (c *conn) event(dr *dir, ev httpparse.Event) {
	m := dr.p.Msg()
	switch ev {
	case httpparse.Begin:
		dr.begin, dr.hinted = dr.cur, false
	case httpparse.Head:
		dr.headAt = dr.cur.At
		if c.side == "" {
			c.learnSide(dr, m.Request)
		}
		if m.Ambiguous && !c.ambiguous {
			c.ambiguous = true
			c.t.stats.FramingAmbiguous++
		}
	case httpparse.End:
		if c.side == "" { // a message cut before its head completed
			c.learnSide(dr, m.Request)
		}
		if m.Request {
			c.request(dr, m)
		} else {
			c.response(dr, m)
		}
		// Between messages a parser keeps no more than its floor.
		dr.p.Trim()
	case httpparse.Desync:
		c.desync(dr)
	}
}

// learnSide decides the side from the first message: whoever sends a
// request is the client.
func (c *conn) learnSide(dr *dir, request bool) {
	if request == (dr.d == event.Recv) {
		c.setSide(record.Server)
	} else {
		c.setSide(record.Client)
	}
}

// stop ends parsing after an upgrade or a tunnel.
func (c *conn) stop() {
	c.stopParsing()
	c.t.stats.Upgraded++
}

// stopParsing makes c parse nothing more.
func (c *conn) stopParsing() {
	c.stopped = true
	for i := range c.dirs {
		c.dirs[i].p.Stop()
		c.dirs[i].p.Release() // nothing more is parsed: the buffers go back
	}
}

// commString is the process name of m, allocated once while it stays the same.
func (c *conn) commString(m *stream.Meta) string {
	if m.Comm != c.commRaw || c.comm == "" {
		c.commRaw = m.Comm
		c.comm = event.CommString(&m.Comm)
	}
	return c.comm
}

// close ends both directions: held pieces are passed on, then the
// protocol ends what is left.
func (c *conn) close() {
	order := [2]*dir{&c.dirs[event.Recv], &c.dirs[event.Send]}
	if c.side != "" {
		order = [2]*dir{c.reqDir(), c.respDir()}
	}
	for _, dr := range order {
		if !c.stopped {
			dr.s.Flush(dr)
		}
	}
	c.proto.close(c, order)
}
