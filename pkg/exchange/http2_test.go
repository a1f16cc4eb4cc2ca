package exchange

import (
	"bytes"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/record"
)

// h2wire writes one direction of an HTTP/2 connection with x/net's framer.
type h2wire struct {
	buf bytes.Buffer
	fr  *http2.Framer
	hb  bytes.Buffer
	enc *hpack.Encoder
}

func newH2Wire() *h2wire {
	w := &h2wire{}
	w.fr = http2.NewFramer(&w.buf, nil)
	w.enc = hpack.NewEncoder(&w.hb)
	return w
}

func (w *h2wire) headers(id uint32, end bool, kv ...string) string {
	w.hb.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		w.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: w.hb.Bytes(), EndStream: end, EndHeaders: true})
	return w.take()
}

func (w *h2wire) data(id uint32, end bool, s string) string {
	w.fr.WriteData(id, end, []byte(s))
	return w.take()
}

func (w *h2wire) take() string {
	s := w.buf.String()
	w.buf.Reset()
	return s
}

// An HTTP/2 connection is read as HTTP/2 from its preface, on the server
// side and on the client side, one record per stream; a connection reused
// from the free list afterwards is HTTP/1 again.
func TestHTTP2Streams(t *testing.T) {
	for _, side := range []record.Side{record.Server, record.Client} {
		t.Run(string(side), func(t *testing.T) {
			w := newWorld(t, Options{})
			p, req, resp := w.serverConn(1), event.Recv, event.Send
			if side == record.Client {
				p, req, resp = w.clientConn(1), event.Send, event.Recv
			}
			c, s := newH2Wire(), newH2Wire()
			c.fr.WriteSettings()
			p.send(req, http2.ClientPreface+c.take())
			s.fr.WriteSettings()
			p.send(resp, s.take())
			p.send(req, c.headers(1, true, ":method", "GET", ":scheme", "http", ":authority", "a.test", ":path", "/one", "authorization", "x")+
				c.headers(3, false, ":method", "POST", ":scheme", "http", ":authority", "a.test", ":path", "/pkg.S/Call", "content-type", "application/grpc"))
			p.send(req, c.data(3, true, "\x00\x00\x00\x00\x02hi"))
			p.send(resp, s.headers(3, false, ":status", "200", "content-type", "application/grpc")+s.data(3, false, "\x00\x00\x00\x00\x00")+
				s.headers(3, true, "grpc-status", "7", "grpc-message", "denied"))
			p.send(resp, s.headers(1, false, ":status", "404")+s.data(1, true, "nope"))
			p.close()
			if len(w.recs) != 2 {
				t.Fatalf("records: %s", w.summary())
			}
			g, one := w.recs[0], w.recs[1]
			if g.Stream != 3 || g.Proto != "HTTP/2" || g.Side != side || g.GRPCService != "pkg.S" || g.GRPCMethod != "Call" ||
				!g.GRPCStatusSet || g.GRPCStatus != 7 || g.GRPCMessage != "denied" || g.Status != 200 || g.RequestBodyBytes != 7 ||
				g.GRPCRequestMessages != 1 || g.GRPCResponseMessages != 1 {
				t.Errorf("gRPC stream: %+v", g)
			}
			if one.Stream != 1 || one.Method != "GET" || one.Path != "/one" || one.Authority != "a.test" || one.Status != 404 ||
				one.ResponseBodyBytes != 4 || header(one.Headers, "authorization") != "x" || one.Incomplete || one.Gap || one.LatencyNs == 0 {
				t.Errorf("GET stream: %+v", one)
			}
			st := w.tr.Stats()
			if st.ConnsHTTP2 != 1 || st.HTTP2.Streams != 2 || st.Paired != 2 || st.NotHTTP != 0 {
				t.Errorf("stats: %+v", st)
			}
			// The connection's room is reused for an HTTP/1 one.
			p = w.serverConn(2)
			p.send(event.Recv, get("/h1"))
			p.send(event.Send, ok("x"))
			p.close()
			if len(w.recs) != 3 || w.recs[2].Proto != "HTTP/1.1" || w.recs[2].Stream != 0 || w.recs[2].Status != 200 {
				t.Errorf("HTTP/1 after HTTP/2: %s", w.summary())
			}
		})
	}
}

// A server's SETTINGS seen before the client's preface (the traced process
// is the server and wrote first) still makes the client's the other direction.
func TestHTTP2ServerSettingsFirst(t *testing.T) {
	w := newWorld(t, Options{})
	p := w.serverConn(1)
	s, c := newH2Wire(), newH2Wire()
	s.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 250})
	p.send(event.Send, s.take())
	p.send(event.Recv, http2.ClientPreface+c.headers(1, true, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/s"))
	p.send(event.Send, s.headers(1, true, ":status", "204"))
	p.close()
	if w.summary() != "GET /s 204" || w.recs[0].Side != record.Server {
		t.Errorf("records: %s %+v", w.summary(), w.recs)
	}
}

// Go's server reads the preface in two reads (14 bytes, then 10), then
// each frame's header and payload apart: the opening is told from the two
// reads together.
func TestHTTP2PrefaceSplit(t *testing.T) {
	w := newWorld(t, Options{})
	p := w.serverConn(1)
	c, s := newH2Wire(), newH2Wire()
	p.send(event.Recv, http2.ClientPreface[:14])
	p.send(event.Recv, http2.ClientPreface[14:])
	s.fr.WriteSettings()
	p.send(event.Send, s.take())
	c.fr.WriteSettings()
	hs := c.take() + c.headers(1, true, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/split")
	for len(hs) > 0 {
		k := min(len(hs), 9)
		p.send(event.Recv, hs[:k])
		hs = hs[k:]
	}
	p.send(event.Send, s.headers(1, true, ":status", "200"))
	p.close()
	if w.summary() != "GET /split 200" || w.tr.Stats().ConnsHTTP2 != 1 || w.tr.Stats().Desyncs != 0 {
		t.Errorf("records: %s; stats %+v", w.summary(), w.tr.Stats())
	}
}

// A first read too short to tell is held apart from any protocol: the
// HTTP/1 parser never sees an HTTP/2 preface's start, and an HTTP/1
// request read in small pieces is whole.
func TestOpeningHeld(t *testing.T) {
	w := newWorld(t, Options{})
	p := w.serverConn(1)
	c, s := newH2Wire(), newH2Wire()
	p.send(event.Recv, http2.ClientPreface[:18])
	p.send(event.Recv, http2.ClientPreface[18:]+c.headers(1, true, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/h2"))
	p.send(event.Send, s.headers(1, true, ":status", "200"))
	p.close()
	q := w.serverConn(2)
	q.send(event.Recv, "GE")
	q.send(event.Recv, "T /h1 HTTP/1.1\r\nHost: h\r\n\r\n")
	q.send(event.Send, ok("x"))
	q.close()
	st := w.tr.Stats()
	if w.summary() != "GET /h2 200; GET /h1 200" || st.Desyncs != 0 || st.SkippedBytes != 0 {
		t.Errorf("records: %s; stats %+v", w.summary(), st)
	}
}

// A connection picked up mid-way whose first record begins with HTTP/2
// frames is read as HTTP/2: adopted, its side learnt from the first block
// that decodes, fields naming table entries from before it unresolved.
func TestHTTP2Adopted(t *testing.T) {
	w := newWorld(t, Options{})
	p := w.serverConn(1)
	p.flags = event.ConnAdopted
	c, s := newH2Wire(), newH2Wire()
	// Both encoders' tables hold entries from before the tracer.
	c.headers(1, true, ":method", "GET", ":scheme", "http", ":authority", "old.test", ":path", "/old", "x-old", "1")
	s.headers(1, true, ":status", "200", "x-old", "2")
	p.send(event.Recv, c.headers(9, true, ":method", "GET", ":scheme", "http", ":authority", "old.test", ":path", "/nine", "x-new", "n"))
	p.send(event.Send, s.headers(9, true, ":status", "204"))
	p.close()
	if len(w.recs) != 1 {
		t.Fatalf("records: %s", w.summary())
	}
	r := w.recs[0]
	if r.Path != "/nine" || r.Status != 204 || r.Side != record.Server || !r.Adopted || r.Stream != 9 || r.Proto != "HTTP/2" {
		t.Errorf("record: %+v", r)
	}
	if r.Authority != "" || r.Unresolved != 1 || header(r.Headers, "x-new") != "n" {
		t.Errorf("the authority from before is unresolved, not guessed: %q, unresolved %d, headers %v", r.Authority, r.Unresolved, r.Headers)
	}
}

// An HTTP/1.1 request asking for h2c, answered 101: the answer comes on
// stream 1 in frames (in the same record as the 101 here), and is logged
// with that request, once; the connection is HTTP/2 from then on.
func TestHTTP2Upgrade(t *testing.T) {
	w := newWorld(t, Options{})
	p := w.serverConn(1)
	c, s := newH2Wire(), newH2Wire()
	p.send(event.Recv, "GET /up HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
	s.fr.WriteSettings()
	p.send(event.Send, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"+s.take()+
		s.headers(1, false, ":status", "200")+s.data(1, true, "up"))
	c.fr.WriteSettings()
	p.send(event.Recv, http2.ClientPreface+c.take()+c.headers(3, true, ":method", "GET", ":scheme", "http", ":authority", "h", ":path", "/next"))
	p.send(event.Send, s.headers(3, true, ":status", "204"))
	p.close()
	if w.summary() != "GET /up 200; GET /next 204" {
		t.Fatalf("records: %s", w.summary())
	}
	up, next := w.recs[0], w.recs[1]
	if up.Stream != 1 || up.Proto != "HTTP/1.1" || up.ResponseProto != "HTTP/2" || up.Authority != "h" || up.ResponseBodyBytes != 2 || up.Incomplete {
		t.Errorf("the upgraded request: %+v", up)
	}
	if next.Stream != 3 || next.Proto != "HTTP/2" {
		t.Errorf("the next stream: %+v", next)
	}
	if st := w.tr.Stats(); st.ConnsHTTP2 != 1 || st.Upgraded != 0 || st.Desyncs != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A 101 that switches to another protocol than h2c (the request listed
// both) is an upgrade like any other: logged with its request, parsing stops.
func TestUpgradeNotH2C(t *testing.T) {
	w := newWorld(t, Options{})
	p := w.serverConn(1)
	p.send(event.Recv, "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket, h2c\r\n\r\n")
	p.send(event.Send, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x02hi")
	p.close()
	if w.summary() != "GET /ws 101" || w.recs[0].Stream != 0 || w.tr.Stats().Upgraded != 1 || w.tr.Stats().ConnsHTTP2 != 0 {
		t.Errorf("records: %s; stats %+v", w.summary(), w.tr.Stats())
	}
}
