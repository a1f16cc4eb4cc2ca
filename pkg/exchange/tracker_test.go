// Scenario tests of the tracker: framing cases, gaps, side, timing, sizes.
package exchange

import (
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/record"
)

const (
	in  = event.Recv
	out = event.Send
)

func TestScenarios(t *testing.T) {
	post := "POST /up HTTP/1.1\r\nContent-Length: 30\r\n\r\n"
	cases := []struct {
		name   string
		opts   func(o *Options)
		steps  func(w *world)
		expect string
	}{
		{name: "pipelined requests in one chunk", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, get("/a")+get("/b")+get("/c"))
			c.send(out, ok("x")+status(404)+ok("yz"))
		}, expect: "GET /a 200; GET /b 404; GET /c 200"},
		{name: "chunked response with trailers", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, get("/c"))
			c.send(out, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\n0\r\nT: v\r\n\r\n")
			c.send(in, get("/d"))
			c.send(out, ok(""))
		}, expect: "GET /c 200; GET /d 200"},
		{name: "HEAD response has no body", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, "HEAD /h HTTP/1.1\r\n\r\n")
			c.send(out, "HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n")
			c.send(in, get("/n"))
			c.send(out, status(201))
		}, expect: "HEAD /h 200; GET /n 201"},
		{name: "100 continue before the final response", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, "POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
			c.send(out, "HTTP/1.1 100 Continue\r\n\r\n")
			c.send(in, "abc")
			c.send(out, status(201))
		}, expect: "POST /e 201"},
		{name: "204 and 304", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, get("/a")+get("/b"))
			c.send(out, "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n")
		}, expect: "GET /a 204; GET /b 304"},
		{name: "HTTP/1.0 response read until close", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, "GET /old HTTP/1.0\r\n\r\n")
			c.send(out, "HTTP/1.0 200 OK\r\n\r\nbody without length")
			c.send(out, " and more")
			c.close()
		}, expect: "GET /old 200"},
		{name: "Connection close", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, "GET /x HTTP/1.1\r\nConnection: close\r\n\r\n")
			c.send(out, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close")
			c.close()
		}, expect: "GET /x 200"},
		{name: "101 stops parsing", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
			c.send(out, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")
			c.send(in, "\x81\x05GET / HTTP/1.1\r\n\r\n")
			c.send(out, ok("looks like http"))
			c.close()
		}, expect: "GET /ws 101"},
		{name: "CONNECT 200 stops parsing", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n")
			c.send(out, "HTTP/1.1 200 Connection Established\r\n\r\n")
			c.send(in, get("/inside"))
			c.send(out, ok("tunnel"))
			c.close()
		}, expect: "CONNECT h:443 200"},
		{name: "refused upgrade keeps parsing", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n")
			c.send(out, status(400))
			c.send(in, get("/next"))
			c.send(out, ok(""))
		}, expect: "GET /ws 400; GET /next 200"},
		{name: "adopted mid-body resynchronises", steps: func(w *world) {
			c := w.serverConn(1)
			c.flags = event.ConnAdopted
			c.send(in, "ody of an earlier request\r\nthat ends here")
			c.send(in, get("/one"))
			c.send(out, ok("1"))
			c.send(in, get("/two"))
			c.send(out, ok("2"))
		}, expect: "GET /one - adopted incomplete; ? 200 adopted unmatched; GET /two 200 adopted"},
		{name: "adopted between requests pairs at once", steps: func(w *world) {
			c := w.serverConn(1)
			c.flags = event.ConnAdopted
			c.send(in, get("/one"))
			c.send(out, ok("1"))
			c.send(in, get("/two"))
			c.send(out, ok("2"))
		}, expect: "GET /one 200 adopted; GET /two 200 adopted"},
		{name: "adopted with the first response lost", steps: func(w *world) {
			c := w.serverConn(1)
			c.flags = event.ConnAdopted
			c.send(in, get("/one"))
			c.lose(out, ok("1"))
			c.send(in, get("/two"))
			c.send(out, ok("2"))
			w.tick(time.Second)
		}, expect: "GET /one - gap adopted incomplete; GET /two - gap adopted incomplete; ? 200 gap adopted unmatched"},
		{name: "gap inside a body", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, post+strings.Repeat("a", 10))
			c.lose(in, strings.Repeat("b", 10))
			c.send(in, strings.Repeat("c", 10))
			w.tick(time.Second)
			c.send(out, ok(""))
			c.send(in, get("/after"))
			c.send(out, ok(""))
		}, expect: "POST /up 200 gap; GET /after 200"},
		{name: "gap inside headers", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, "GET /cut HTTP/1.1\r\nHo")
			c.lose(in, "st: h\r\nX-A: b\r\n")
			c.send(in, "X-B: c\r\n\r\n")
			w.tick(time.Second)
			c.send(out, ok("for cut"))
			c.send(in, get("/n1"))
			c.send(out, ok("n1"))
			c.send(in, get("/n2"))
			c.send(out, ok("n2"))
		}, expect: "GET /cut 200 gap trunc; GET /n1 - gap incomplete; ? 200 gap unmatched; GET /n2 200"},
		{name: "out-of-order records", steps: func(w *world) {
			c := w.serverConn(1)
			r1, r2, r3 := c.data(in, "GET /ooo HT"), c.data(in, "TP/1.1\r\nHost"), c.data(in, ": h\r\n\r\n")
			w.tr.Data(r1)
			w.tr.Data(r3)
			w.tr.Data(r2)
			c.send(out, ok(""))
		}, expect: "GET /ooo 200"},
		{name: "lost request never pairs with the next", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, get("/1"))
			c.send(out, ok("1"))
			c.lose(in, get("/2"))
			c.send(out, ok("2"))
			c.send(in, get("/3"))
			w.tick(time.Second)
			c.send(out, ok("3"))
			c.send(in, get("/4"))
			c.send(out, ok("4"))
		}, expect: "GET /1 200; ? 200 unmatched; GET /3 - gap incomplete; ? 200 gap unmatched; GET /4 200"},
		{name: "lost response never pairs with the next request", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, get("/1"))
			c.lose(out, ok("1"))
			c.send(in, get("/2"))
			c.send(out, ok("2"))
			w.tick(time.Second)
			c.send(in, get("/3"))
			c.send(out, ok("3"))
		}, expect: "GET /1 - gap incomplete; GET /2 - gap incomplete; ? 200 gap unmatched; GET /3 200"},
		{name: "request timeout then late answer", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, get("/slow"))
			w.tick(31 * time.Second)
			c.send(out, ok("late"))
			c.send(in, get("/next"))
			c.send(out, ok(""))
		}, expect: "GET /slow - incomplete; ? 200 unmatched; GET /next 200"},
		{name: "close with requests pending", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, get("/a")+get("/b"))
			c.send(out, ok(""))
			c.close()
		}, expect: "GET /a 200; GET /b - incomplete"},
		{name: "flush at the end", steps: func(w *world) {
			w.serverConn(1).send(in, get("/a"))
			w.tr.Flush(w.now)
		}, expect: "GET /a - incomplete"},
		{name: "12 KiB header section", steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, "GET /big HTTP/1.1\r\n"+strings.Repeat("X-Pad: "+strings.Repeat("p", 90)+"\r\n", 125)+"\r\n")
			c.send(out, ok(""))
		}, expect: "GET /big 200"},
		{name: "header section over the limit", opts: func(o *Options) { o.MaxHeaderBytes = 1024 }, steps: func(w *world) {
			c := w.serverConn(1)
			c.send(in, "GET /big HTTP/1.1\r\n"+strings.Repeat("X-Pad: "+strings.Repeat("p", 90)+"\r\n", 40)+"\r\n")
			c.send(out, ok(""))
			c.send(in, get("/small"))
			c.send(out, ok(""))
		}, expect: "GET /big 200 trunc; GET /small 200"},
		{name: "process exit closes its connections", steps: func(w *world) {
			w.serverConn(1).send(in, get("/a"))
			w.tr.ProcExit(100, w.now)
		}, expect: "GET /a - incomplete"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := DefaultOptions()
			if c.opts != nil {
				c.opts(&opts)
			}
			w := newWorld(t, opts)
			c.steps(w)
			if got := w.summary(); got != c.expect {
				t.Fatalf("records\n got %s\nwant %s", got, c.expect)
			}
		})
	}
}

func TestSidesAndSizes(t *testing.T) {
	req := "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
	resp := "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
	cases := []struct {
		name           string
		conn           func(w *world) *peer
		reqDir         event.Direction
		side           record.Side
		client, server string
	}{
		{name: "server side", conn: func(w *world) *peer { return w.serverConn(1) }, reqDir: in, side: record.Server, client: clientAddr.String(), server: serverAddr.String()},
		{name: "client side", conn: func(w *world) *peer { return w.clientConn(2) }, reqDir: out, side: record.Client, client: clientAddr.String(), server: serverAddr.String()},
		{name: "server side learnt from the first request", conn: func(w *world) *peer {
			p := w.serverConn(3)
			p.flags = 0
			return p
		}, reqDir: in, side: record.Server, client: clientAddr.String(), server: serverAddr.String()},
		{name: "client side learnt from the first request", conn: func(w *world) *peer {
			p := w.clientConn(4)
			p.flags = 0
			return p
		}, reqDir: out, side: record.Client, client: clientAddr.String(), server: serverAddr.String()},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, Options{CaptureBodyBytes: 2})
			p := c.conn(w)
			reqRec := p.data(c.reqDir, req)
			respRec := p.data(1-c.reqDir, resp)
			w.tr.Data(reqRec)
			w.tr.Data(respRec)
			if len(w.recs) != 1 {
				t.Fatalf("records %s, want one", w.summary())
			}
			r := w.recs[0]
			if r.Side != c.side || r.Client != c.client || r.Server != c.server {
				t.Errorf("side %s client %s server %s, want %s %s %s", r.Side, r.Client, r.Server, c.side, c.client, c.server)
			}
			if r.RequestBytes != uint64(len(req)) || r.ResponseBytes != uint64(len(resp)) {
				t.Errorf("sizes %d/%d, want %d/%d", r.RequestBytes, r.ResponseBytes, len(req), len(resp))
			}
			moved := func(d *event.Data) uint64 {
				if d.Dir == event.Send {
					return d.StartNs
				}
				return d.EndNs
			}
			if want := moved(respRec) - moved(reqRec); r.LatencyNs != want {
				t.Errorf("latency %d, want %d", r.LatencyNs, want)
			}
			if r.Method != "POST" || r.Path != "/p" || r.Proto != "HTTP/1.1" || r.Status != 200 || r.Reason != "OK" || header(r.Headers, "host") != "h" {
				t.Errorf("record %+v", r)
			}
			if string(r.RequestBody) != "bo" || string(r.ResponseBody) != "ab" {
				t.Errorf("bodies %q %q, want bo ab", r.RequestBody, r.ResponseBody)
			}
			if r.PID != 100 || r.Comm != "testproc" || r.FD != 5 || r.Conn != p.id {
				t.Errorf("process details %d %q %d %d", r.PID, r.Comm, r.FD, r.Conn)
			}
		})
	}
}

// TestEverySplit splits a request and its response at every byte boundary.
func TestEverySplit(t *testing.T) {
	req := "POST /s HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
	resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	for i := 0; i <= len(req); i++ {
		for j := 0; j <= len(resp); j++ {
			w := newWorld(t, DefaultOptions())
			c := w.serverConn(1)
			for _, part := range []string{req[:i], req[i:]} {
				if part != "" {
					c.send(in, part)
				}
			}
			for _, part := range []string{resp[:j], resp[j:]} {
				if part != "" {
					c.send(out, part)
				}
			}
			if got := w.summary(); got != "POST /s 200" || w.recs[0].RequestBytes != uint64(len(req)) || w.recs[0].ResponseBytes != uint64(len(resp)) {
				t.Fatalf("split at %d/%d: %s", i, j, got)
			}
		}
	}
}
