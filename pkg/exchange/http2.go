// HTTP/2 on a connection: its bytes go to pkg/http2, and each stream that
// ends is logged as one exchange.
package exchange

import (
	"bytes"
	"encoding/base64"
	"strings"

	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/http2"
	"github.com/httptrace/httptrace/pkg/record"
)

// h2conn is HTTP/2 on connection c.
type h2conn struct {
	c *conn
	h *http2.Conn
	// upgradedProto is the protocol of the HTTP/1.1 request that asked for
	// the upgrade to h2c ("" for none): stream 1's request.
	upgradedProto string
}

// useHTTP2 makes c read HTTP/2 from now on; its client sends in direction
// client (-1: not known yet), and fromStart says the connection is read
// from its first byte.
func (c *conn) useHTTP2(client int, fromStart bool) {
	if c.h2 == nil {
		c.h2 = &h2conn{}
		lim := http2.Limits{MaxStreams: MaxStreams, MaxHeaderBytes: c.t.opts.MaxHeaderBytes,
			CaptureBodyBytes: c.t.opts.CaptureBodyBytes, Budget: &c.t.budget}
		c.h2.h = http2.NewConn(lim, &c.t.stats.HTTP2, c.h2.stream)
	}
	c.h2.c, c.h2.upgradedProto = c, ""
	c.h2.h.Reset(client, fromStart)
	c.proto = c.h2
	c.h2.learnSide()
}

// upgradeHTTP2 switches c to HTTP/2 after a 101 to request q, which asked
// for h2c: q is stream 1's request; the client's preface comes next.
func (c *conn) upgradeHTTP2(q *pendingReq) {
	c.t.stats.ConnsHTTP2++
	c.useHTTP2(clientDir(c.side), true)
	last := q.meta
	last.At = q.endAt
	authority := ""
	for _, h := range q.headers {
		switch {
		case strings.EqualFold(h.Name, "Host"):
			authority = h.Value
		case strings.EqualFold(h.Name, "HTTP2-Settings"):
			// The client's first SETTINGS (base64url, padding optional).
			if p, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(h.Value, "=")); err == nil {
				c.h2.h.ClientSettings(p)
			}
		}
	}
	c.h2.upgradedProto = q.proto
	c.h2.h.Upgraded(http2.Message{Method: q.method, Path: q.path, Authority: authority, Scheme: "http",
		Fields: q.headers, Bytes: q.bytes, BodyBytes: q.bodyBytes, Body: q.body, First: q.meta, Last: last, Gap: q.gap, Truncated: q.truncated})
}

// clientDir is the direction the client of a connection on side s sends
// in, -1 when the side is not known.
func clientDir(s record.Side) int {
	switch s {
	case record.Server:
		return int(event.Recv)
	case record.Client:
		return int(event.Send)
	}
	return -1
}

// learnSide sets the connection's side once HTTP/2 knows which direction
// is the client's.
func (p *h2conn) learnSide() {
	switch cl := p.h.Client(); {
	case p.c.side != "" || cl < 0:
	case event.Direction(cl) == event.Send:
		p.c.setSide(record.Client)
	default:
		p.c.setSide(record.Server)
	}
}

// http2Client is the client's direction of a connection whose first bytes
// b, moved in direction d, opened HTTP/2: d itself when they are the
// preface, else (a server's SETTINGS) the other.
func http2Client(d event.Direction, b []byte) int {
	if bytes.HasPrefix(b, []byte(http2.Preface)) {
		return int(d)
	}
	return int(1 - d)
}

func (p *h2conn) data(dr *dir, b []byte) { p.h.Feed(int(dr.d), b, dr.cur) }

func (p *h2conn) missing(dr *dir, n uint64, lost bool) { p.h.Skip(int(dr.d), n, lost, dr.cur) }

// hint gives none: frames follow each other with no way to say where the
// next one the parser needs begins, short of reading every frame header.
func (p *h2conn) hint(*dir) {}

func (p *h2conn) close(*conn, [2]*dir) { p.h.Close() }

// stream logs one HTTP/2 stream as an exchange.
func (p *h2conn) stream(s *http2.Stream) {
	c := p.c
	p.learnSide()
	q, a := &s.Request, &s.Response
	first := &q.First
	if !q.Headers {
		first = &a.First
	}
	r := c.base(first)
	r.Stream = s.ID

	if q.Headers {
		r.Method, r.Path, r.Authority, r.Proto = q.Method, q.Path, q.Authority, "HTTP/2"
		r.Headers, r.RequestTrailers = q.Fields, q.Trailers
		r.RequestBytes, r.RequestBodyBytes = q.Bytes, q.BodyBytes
		if len(q.Body) > 0 {
			r.RequestBody = q.Body
		}
		r.RequestStartNs, r.RequestEndNs = q.First.At, q.Last.At
		if s.ID == 1 && p.upgradedProto != "" {
			r.Proto = p.upgradedProto // the HTTP/1.1 request that asked for h2c
		}
	}
	if a.Headers {
		r.Status, r.ResponseProto = a.Status, "HTTP/2"
		r.ResponseHeaders, r.Trailers = a.Fields, a.Trailers
		r.ResponseBytes, r.ResponseBodyBytes = a.Bytes, a.BodyBytes
		if len(a.Body) > 0 {
			r.ResponseBody = a.Body
		}
		r.ResponseStartNs, r.ResponseEndNs = a.First.At, a.Last.At
	}
	r.Gap = q.Gap || a.Gap
	r.Truncated = q.Truncated || a.Truncated
	r.Unresolved = q.Unresolved + a.Unresolved
	r.Reset, r.ResetCode = s.Reset, s.ResetCode
	r.GoAway, r.GoAwayCode = s.GoAway, s.GoAwayCode
	if svc, m, ok := http2.GRPCMethod(r.Path); ok && s.GRPC() {
		r.GRPCService, r.GRPCMethod = svc, m
		r.GRPCStatus, r.GRPCMessage, r.GRPCStatusSet = s.GRPCStatus()
		r.GRPCRequestMessages, r.GRPCResponseMessages = q.GRPCMessages(), a.GRPCMessages()
	}
	switch {
	case !q.Headers:
		r.Unmatched = true
		c.t.stats.Unmatched++
	case !a.Headers || s.Incomplete():
		r.Incomplete = true
		c.t.stats.Incomplete++
	default:
		c.t.stats.Paired++
	}
	if q.Headers && a.Headers {
		// From the request's last byte, or its first when the answer
		// began while the request was still being sent (streaming).
		switch {
		case q.Ended && a.First.At >= q.Last.At:
			r.LatencyNs = a.First.At - q.Last.At
		case a.First.At > q.First.At:
			r.LatencyNs = a.First.At - q.First.At
		}
	}
	c.send(r)
}
