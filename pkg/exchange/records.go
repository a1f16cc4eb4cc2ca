// Building the exchange records: strings are made once per message (or
// not at all when the header section is the same as the last one's), every
// other buffer is reused.
package exchange

import (
	"slices"

	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/httpparse"
	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/stream"
)

// pendingReq is a request kept until its response comes.
type pendingReq struct {
	head                string // the start line and header section
	method, path, proto string // slices of head
	headers             []record.Header
	bytes               uint64
	bodyBytes           uint64 // body payload, without chunk framing
	body                []byte
	startAt, endAt      uint64
	meta                stream.Meta
	kind                httpparse.MethodKind
	upgrade             bool
	h2c                 bool // its Upgrade header asks for h2c
	gap, truncated      bool
	ambiguous           bool   // its framing headers could be read more than one way
	cut                 bool   // the request ended early (httpparse.Message.Cut)
	size                uint64 // bytes it holds: header section and body
}

// fill copies what the record needs of request m, which dr just parsed.
func (q *pendingReq) fill(c *conn, dr *dir, m *httpparse.Message) {
	head := sameOrCopy(q.head, m.Head())
	q.head = head
	q.method = slice(head, m.Method)
	q.path = slice(head, m.Target)
	q.proto = slice(head, m.Proto)
	q.headers = appendHeaders(q.headers[:0], head, m)
	q.bytes = m.WireBytes
	q.bodyBytes = m.BodyBytes
	q.body = append(q.body[:0], m.Body...)
	q.startAt, q.endAt, q.meta = dr.begin.At, dr.cur.At, dr.begin
	q.kind, q.upgrade = m.Kind(), m.Upgrade
	q.h2c = m.UpgradeH2C
	q.gap, q.truncated, q.cut, q.ambiguous = m.Gap, m.Truncated, m.Cut, m.Ambiguous
	q.size = uint64(len(head) + len(q.body))
}

func slice(s string, sp httpparse.Span) string { return s[sp.Off:sp.End] }

// sameOrCopy is last if it holds the bytes of head, else head as a new
// string: clients and servers under load tend to send the same header
// section again and again, and a string kept is one not allocated.
func sameOrCopy(last string, head []byte) string {
	if last == string(head) { // compared without a copy
		return last
	}
	return string(head)
}

func appendHeaders(hs []record.Header, head string, m *httpparse.Message) []record.Header {
	for _, f := range m.Fields {
		hs = append(hs, record.Header{Name: slice(head, f.Name), Value: slice(head, f.Value)})
	}
	return hs
}

// base starts the record of an exchange on c, with the process details of
// the syscall that moved the message's first byte.
func (c *conn) base(meta *stream.Meta) *record.Exchange {
	r := &c.t.rec
	*r = record.Exchange{
		PID: meta.PID, TID: meta.TID, Comm: c.commString(meta), FD: meta.FD,
		Conn: c.id, Side: c.side, Client: c.client, Server: c.server,
		Adopted: c.adopted, TLS: c.source == event.SourceTLS,
	}
	return r
}

func setRequest(r *record.Exchange, q *pendingReq) {
	r.Method, r.Path, r.Proto = q.method, q.path, q.proto
	r.Headers = q.headers
	r.RequestBytes = q.bytes
	r.RequestBodyBytes = q.bodyBytes
	if len(q.body) > 0 {
		r.RequestBody = q.body
	}
	r.RequestStartNs, r.RequestEndNs = q.startAt, q.endAt
	r.Gap = r.Gap || q.gap
	r.Truncated = r.Truncated || q.truncated
	r.FramingAmbiguous = r.FramingAmbiguous || q.ambiguous
}

func (c *conn) setResponse(r *record.Exchange, dr *dir, m *httpparse.Message) {
	head := sameOrCopy(c.t.respHead, m.Head())
	c.t.respHead = head
	r.Status = m.Status
	r.Reason = slice(head, m.Reason)
	r.ResponseProto = slice(head, m.Proto)
	c.t.respHeaders = appendHeaders(c.t.respHeaders[:0], head, m)
	r.ResponseHeaders = c.t.respHeaders
	r.ResponseBytes = m.WireBytes + c.interim
	r.ResponseBodyBytes = m.BodyBytes
	if len(m.Body) > 0 {
		r.ResponseBody = m.Body
	}
	r.ResponseStartNs, r.ResponseEndNs = dr.begin.At, dr.cur.At
	r.Gap = r.Gap || m.Gap
	r.Truncated = r.Truncated || m.Truncated
	r.FramingAmbiguous = r.FramingAmbiguous || m.Ambiguous
}

// emitPair logs a request with its response. When either ended early
// without bytes going unseen (the connection closed inside it, or its
// framing was broken) the exchange is logged incomplete, with what was
// seen; a message cut by unseen bytes is flagged gap already.
func (c *conn) emitPair(q *pendingReq, dr *dir, m *httpparse.Message) {
	r := c.base(&q.meta)
	setRequest(r, q)
	c.setResponse(r, dr, m)
	if r.ResponseStartNs > r.RequestEndNs {
		r.LatencyNs = r.ResponseStartNs - r.RequestEndNs
	}
	c.t.stats.Paired++
	if (q.cut && !q.gap) || (m.Cut && !m.Gap) {
		r.Incomplete = true
		c.t.stats.Incomplete++
	}
	c.send(r)
}

// keepResponse copies what a record needs of response m, which dr just
// parsed, to log it later with its request (an early response).
func (c *conn) keepResponse(dr *dir, m *httpparse.Message) *record.Exchange {
	r := &record.Exchange{}
	c.setResponse(r, dr, m)
	// The request has not ended: the server answered its header section.
	if at := c.reqDir().headAt; r.ResponseStartNs > at {
		r.LatencyNs = r.ResponseStartNs - at
	}
	r.ResponseHeaders = slices.Clone(r.ResponseHeaders)
	r.ResponseBody = slices.Clone(r.ResponseBody)
	if m.Cut && !m.Gap {
		r.Incomplete = true
	}
	return r
}

// emitEarly logs a request with the response that came while it was
// still arriving. The request's bytes are those it had when it ended: a
// body the client gave up on once it had the answer ends where the
// connection did, and the exchange is complete all the same. Its latency
// runs from the request's header section, which is what was answered.
func (c *conn) emitEarly(q *pendingReq) {
	resp := c.early
	c.early = nil
	r := c.base(&q.meta)
	setRequest(r, q)
	r.Status, r.Reason, r.ResponseProto = resp.Status, resp.Reason, resp.ResponseProto
	r.ResponseHeaders, r.ResponseBytes, r.ResponseBody = resp.ResponseHeaders, resp.ResponseBytes, resp.ResponseBody
	r.ResponseStartNs, r.ResponseEndNs, r.LatencyNs = resp.ResponseStartNs, resp.ResponseEndNs, resp.LatencyNs
	r.Gap = r.Gap || resp.Gap
	r.Truncated = r.Truncated || resp.Truncated
	r.FramingAmbiguous = r.FramingAmbiguous || resp.FramingAmbiguous
	r.Incomplete = resp.Incomplete // the response was cut; the request may end early
	c.t.stats.Paired++
	c.t.stats.EarlyResponses++
	if r.Incomplete {
		c.t.stats.Incomplete++
	}
	c.send(r)
}

// emitIncomplete logs a request without a response.
func (c *conn) emitIncomplete(q *pendingReq, gap bool) {
	r := c.base(&q.meta)
	setRequest(r, q)
	r.Incomplete = true
	r.Gap = r.Gap || gap
	c.t.stats.Incomplete++
	c.send(r)
}

// emitUnmatched logs a response without a request.
func (c *conn) emitUnmatched(dr *dir, m *httpparse.Message) {
	r := c.base(&dr.begin)
	c.setResponse(r, dr, m)
	r.Unmatched = true
	r.Gap = r.Gap || c.unsureGap
	c.t.stats.Unmatched++
	c.send(r)
}

func (c *conn) send(r *record.Exchange) {
	c.t.stats.Exchanges++
	c.t.emit(r)
}
