// Pairing: requests wait in FIFO order for their responses; when bytes go
// missing the pairing is dropped rather than guessed, until the connection
// is known to be in step again.
package exchange

import (
	"github.com/httptrace/httptrace/pkg/httpparse"
	"github.com/httptrace/httptrace/pkg/record"
)

// pairing is a connection's queue of requests and what is known about
// whether the next response answers the oldest of them.
type pairing struct {
	pending []pendingReq
	head    int // index of the oldest waiting request
	// unsure is set when a response may answer a request never seen (bytes
	// lost, connection adopted, a request timed out or was not queued):
	// requests are then logged without pairing, responses unmatched.
	unsure bool
	// unsureGap says unsure came from bytes that were not seen.
	unsureGap bool
	// pipelined is set once a request came before the answer to the one
	// ahead of it: with such a client a lost request cannot be told
	// apart, so the connection never pairs again once unsure.
	pipelined bool
	// answeredUnsure is set when a response came while unsure with no
	// request to pair: the request it answered is then accounted for.
	answeredUnsure bool
	lastRespEnd    uint64 // when the last response's last byte moved
	sawRequest     bool   // a request has been seen on this connection
	// early is a final response that came while its request's body was
	// still arriving (a server answering before it reads the body: a 413,
	// a redirect, nginx's return, a final status instead of 100 Continue).
	// It is logged with that request when the request ends.
	early *record.Exchange
	// unsureKinds are the kinds of the requests logged while unsure, in
	// order, so that the responses still frame right: a HEAD's answer has
	// no body whatever its Content-Length says. Bounded by MaxPending.
	unsureKinds []httpparse.MethodKind
}

// answers is the kind of the request the next response answers.
func (c *conn) answers() httpparse.MethodKind {
	if c.head < len(c.pending) {
		return c.pending[c.head].kind
	}
	if len(c.unsureKinds) > 0 {
		return c.unsureKinds[0]
	}
	return httpparse.MethodOther
}

// canResume reports whether a request that just completed is certain to
// be answered by the next response: the client has not pipelined, a
// response for the unseen request came, the response stream is between
// messages with nothing held back, and it was quiet when this request began.
func (c *conn) canResume(dr *dir) bool {
	if c.adoptedInStep() {
		return true
	}
	return !c.pipelined && c.answeredUnsure && c.head == len(c.pending) &&
		!c.respDir().s.Waiting() && c.respDir().p.Idle() && c.lastRespEnd <= dr.begin.At
}

// adoptedInStep reports whether an adopted connection's first request can
// pair: it is the first message seen on the connection, no byte has moved
// the other way since it was picked up, and nothing was lost. Its response
// is then the next one, unless the peer had pipelined requests before
// tracing began, which a server cannot be answering while it reads.
func (c *conn) adoptedInStep() bool {
	return c.adopted && !c.sawRequest && !c.unsureGap && !c.answeredUnsure &&
		c.head == len(c.pending) && !c.respDir().seen && c.reqDir().p.Skipped == 0
}

// request takes a complete (or cut) request.
func (c *conn) request(dr *dir, m *httpparse.Message) {
	if c.early != nil && c.head == len(c.pending) {
		c.sawRequest = true
		dr.p.SniffBody = false
		req := &c.t.scratch
		req.fill(c, dr, m)
		c.emitEarly(req)
		return
	}
	if c.unsure && c.canResume(dr) {
		c.unsure, c.unsureGap = false, false
		c.unsureKinds = c.unsureKinds[:0]
	}
	c.sawRequest = true
	if !c.unsure && (len(c.pending)-c.head >= c.t.opts.MaxPending ||
		c.t.pendingBytes+uint64(len(m.Head())) > uint64(c.t.opts.MaxPendingBytes)) {
		c.t.stats.PendingDropped++
		c.unsure, c.answeredUnsure = true, false
	}
	if c.unsure {
		req := &c.t.scratch
		req.fill(c, dr, m)
		c.emitIncomplete(req, c.unsureGap)
		// Only a HEAD's kind changes how its answer is framed; a CONNECT's
		// would stop the response parser on a 2xx, which an unmatched
		// response must not (it may answer another request).
		kind := m.Kind()
		if kind != httpparse.MethodHead {
			kind = httpparse.MethodOther
		}
		if len(c.unsureKinds) < c.t.opts.MaxPending {
			c.unsureKinds = append(c.unsureKinds, kind)
		}
		return
	}
	if c.head == len(c.pending) {
		c.pending, c.head = c.pending[:0], 0
	}
	n := len(c.pending)
	if n < cap(c.pending) {
		c.pending = c.pending[:n+1]
	} else {
		c.pending = append(c.pending, pendingReq{})
	}
	c.pending[n].fill(c, dr, m)
	c.t.pendingBytes += c.pending[n].size
}

// pop takes the oldest waiting request off the queue; the caller clears
// it (forget) once done with it.
func (c *conn) pop() *pendingReq {
	req := &c.pending[c.head]
	c.head++
	c.t.pendingBytes -= req.size
	return req
}

// forget clears an answered request, so that its queue slot holds on to
// none of its strings, keeping only its buffers' room; the first slot,
// the one a connection that does not pipeline reuses each time, keeps its
// header section, which the next request's is compared with (sameOrCopy).
func (c *conn) forget(req *pendingReq) {
	if req == &c.pending[0] {
		return
	}
	clear(req.headers)
	*req = pendingReq{headers: req.headers[:0], body: req.body[:0]}
}

// response takes a complete (or cut) response.
func (c *conn) response(dr *dir, m *httpparse.Message) {
	if m.Status < 200 && m.Status != 101 {
		c.interim += m.WireBytes // 1xx: counted with the final response
		return
	}
	stop := m.Status == 101
	if m.Status != 101 && c.head == len(c.pending) && !c.unsure && c.early == nil &&
		c.reqDir().p.InBody() && c.reqDir().p.Msg().Request {
		// The request this answers is still arriving: it is logged with
		// this response when it ends.
		c.early = c.keepResponse(dr, m)
		// The client may drop the body now that it has the answer and send
		// its next request: that ends this one.
		c.reqDir().p.SniffBody = true
		c.lastRespEnd = dr.cur.At
		c.interim = 0
		return
	}
	if c.head < len(c.pending) {
		req := c.pop()
		if m.Status == 101 && req.h2c && m.UpgradeH2C {
			// The answer to the request comes on stream 1, in frames.
			c.upgradeHTTP2(req)
			c.forget(req)
			return
		}
		c.emitPair(req, dr, m)
		if c.head < len(c.pending) && c.pending[c.head].startAt < dr.begin.At {
			c.pipelined = true // the next request came before this answer
		}
		stop = stop || req.kind == httpparse.MethodConnect && m.Status/100 == 2
		refused := !stop && (req.kind == httpparse.MethodConnect || req.upgrade)
		c.forget(req)
		if refused && c.reqDir().p.Resume() {
			c.desync(c.reqDir()) // bytes sent after the refused upgrade were not parsed
		}
	} else {
		// A response with no request answers one not seen (lost, or
		// still to be passed on): pairing waits until the connection is
		// in step again, and this response accounts for that request.
		c.emitUnmatched(dr, m)
		c.unsure, c.answeredUnsure = true, true
		if len(c.unsureKinds) > 0 {
			c.unsureKinds = c.unsureKinds[:copy(c.unsureKinds, c.unsureKinds[1:])]
		}
	}
	c.lastRespEnd = dr.cur.At
	c.interim = 0
	if stop {
		c.stop()
	}
}

// desync handles a parser that lost framing: messages may have gone
// unseen, so pairing stops until the connection is in step again.
func (c *conn) desync(dr *dir) {
	c.t.stats.Desyncs++
	if c.side != "" && dr == c.respDir() {
		// Responses to any waiting request may be among the lost bytes.
		// (Requests waiting when request bytes are lost stay: their
		// answers still come first.)
		c.dropPending(true)
		c.unsureKinds = c.unsureKinds[:0]
	}
	c.unsure, c.unsureGap, c.answeredUnsure = true, true, false
}

// dropPending logs every waiting request as incomplete.
func (c *conn) dropPending(gap bool) {
	for c.head < len(c.pending) {
		req := c.pop()
		c.emitIncomplete(req, gap)
		c.forget(req)
	}
	c.pending, c.head = c.pending[:0], 0
}

// expire logs requests that waited longer than timeout as incomplete; a
// late answer must not pair with the next request, so pairing stops.
func (c *conn) expire(nowNs, timeout uint64) {
	for c.head < len(c.pending) && c.pending[c.head].endAt+timeout <= nowNs {
		req := c.pop()
		c.t.stats.TimedOut++
		c.emitIncomplete(req, false)
		c.forget(req)
		c.unsure, c.answeredUnsure = true, false
	}
}
