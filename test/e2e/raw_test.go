// Raw-socket cases: the test writes exact bytes on a net.Conn and knows
// exactly what went over the wire each way.
package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// TestRawPipelined sends three requests in one write to the Go server;
// the answers are 200, 404, 200 in order, and so are the records, on one
// connection.
func TestRawPipelined(t *testing.T) {
	srv := harness.StartGoServer(t)
	pipelined(t, srv.PID(), srv.Addr, appPaths)
}

// TestRawNginxPipelined does the same with nginx (recv, writev, sendfile),
// traced by its master's PID.
func TestRawNginxPipelined(t *testing.T) {
	ngx := harness.StartNginx(t)
	pipelined(t, ngx.PID(), ngx.Addr, nginxPaths)
}

// pipelined traces pid and sends three requests in one write to addr.
func pipelined(t *testing.T, pid int, addr string, p paths) {
	tr := trace(t, pid)
	c := harness.DialRaw(t, addr)
	ids := []string{harness.NewID("pipe"), harness.NewID("pipe"), harness.NewID("pipe")}
	reqPaths := []string{p.ok(ids[0]), p.notFound(ids[1]), p.ok(ids[2])}
	var texts []string
	for i, id := range ids {
		texts = append(texts, harness.RequestText("GET", reqPaths[i], id))
	}
	c.Send(t, strings.Join(texts, ""))
	var sent []harness.Sent
	for i, want := range []int{200, 404, 200} {
		s := c.Sent("GET", reqPaths[i], ids[i], int64(len(texts[i])), c.Read(t, "GET"))
		expectStatus(t, s, want)
		sent = append(sent, s)
	}
	finish(t, tr, "raw", sent)
	recs := tr.Records(t)
	var order []harness.Record
	for _, id := range ids {
		for _, r := range recs {
			if harness.Matches(r, id) {
				order = append(order, r)
			}
		}
	}
	if len(order) != 3 {
		return // Check has said why
	}
	for i := 1; i < 3; i++ {
		if order[i].Conn != order[0].Conn || order[i].FD != order[0].FD {
			t.Errorf("pipelined requests logged on different connections:\n%s\n%s", order[0].Line, order[i].Line)
		}
		if order[i].Start.Before(order[i-1].Start) {
			t.Errorf("pipelined request %d logged as starting before request %d:\n%s\n%s", i+1, i, order[i-1].Line, order[i].Line)
		}
	}
}

// TestRawSplitHeaders writes a short request in two writes, split at every
// byte boundary, one connection per split point, with a pause between the
// writes so the server reads the halves apart.
func TestRawSplitHeaders(t *testing.T) {
	srv := harness.StartGoServer(t)
	tr := trace(t, srv.PID())
	var sent []harness.Sent
	probe := harness.RequestText("GET", "/split/"+harness.NewID("split"), harness.NewID("split"))
	for k := 1; k < len(probe); k++ {
		id := harness.NewID("split")
		path := "/split/" + id
		req := harness.RequestText("GET", path, id)
		c := harness.DialRaw(t, srv.Addr)
		c.Send(t, req[:k])
		time.Sleep(3 * time.Millisecond)
		c.Send(t, req[k:])
		s := c.Sent("GET", path, id, int64(len(req)), c.Read(t, "GET"))
		expectStatus(t, s, 200)
		sent = append(sent, s)
		c.Close()
	}
	finish(t, tr, "raw", sent)
}

// step is one request on a shared connection: its method, its path before
// the id, extra header lines, the status the server must answer, and what
// else to check or allow once the answer is in.
type step struct {
	method, path string
	status       int
	extra        []string
	body         string // sent with the headers, with its Content-Length unless chunked
	after        func(t *testing.T, s *harness.Sent, got harness.RawAnswer, c *harness.RawConn)
}

// thenOK is a plain GET after the step under test: its exchange shows the
// one before it ended where it should.
var thenOK = step{method: "GET", path: "/ok/", status: 200}

// onOneConn traces the Go server, sends the steps on one connection, and
// checks every exchange.
func onOneConn(t *testing.T, prefix string, steps ...step) {
	srv := harness.StartGoServer(t)
	onOneConnTo(t, srv.PID(), srv.Addr, prefix, steps...)
}

// onOneConnTo traces pid and sends the steps on one connection to addr.
func onOneConnTo(t *testing.T, pid int, addr, prefix string, steps ...step) {
	tr := trace(t, pid)
	c := harness.DialRaw(t, addr)
	var sent []harness.Sent
	for _, st := range steps {
		id := harness.NewID(prefix)
		path := st.path + id
		extra := st.extra
		if st.body != "" && !strings.Contains(strings.Join(extra, "\n"), "Transfer-Encoding") {
			extra = append(extra, fmt.Sprintf("Content-Length: %d", len(st.body)))
		}
		req := harness.RequestText(st.method, path, id, extra...) + st.body
		c.Send(t, req)
		got := c.Read(t, st.method)
		s := c.Sent(st.method, path, id, int64(len(req)), got)
		expectStatus(t, s, st.status)
		if st.after != nil {
			st.after(t, &s, got, c)
		}
		sent = append(sent, s)
	}
	finish(t, tr, "raw", sent)
}

// TestRawLargeHeader sends a 12 KiB header, then a short request on the
// same connection. The big header section may be cut in the record
// (truncated), but both exchanges must be there, with their sizes.
func TestRawLargeHeader(t *testing.T) {
	big := step{method: "GET", path: "/big/", status: 200, extra: []string{"X-Big: " + strings.Repeat("b", 12*1024)},
		after: func(_ *testing.T, s *harness.Sent, _ harness.RawAnswer, _ *harness.RawConn) { s.AnyTruncated = true }}
	onOneConn(t, "big", big, thenOK)
}

// TestRawLargeBodies sends a 256 KiB request body and gets a 1 MiB
// response, each moved by many syscalls, then a plain GET, on one
// connection: the sizes must be exact.
func TestRawLargeBodies(t *testing.T) {
	onOneConn(t, "large", step{method: "POST", path: "/body/", status: 200, body: strings.Repeat("q", 256<<10)},
		step{method: "GET", path: "/large/", status: 200, after: func(t *testing.T, _ *harness.Sent, got harness.RawAnswer, _ *harness.RawConn) {
			if len(got.Body) != 1<<20 {
				t.Fatalf("the server answered /large/ with %d bytes, want 1 MiB", len(got.Body))
			}
		}}, thenOK)
}

// TestRawChunkedRequest sends a request body in chunks, then a plain GET.
func TestRawChunkedRequest(t *testing.T) {
	onOneConn(t, "chunked-req", step{method: "POST", path: "/body/", status: 200,
		extra: []string{"Transfer-Encoding: chunked"}, body: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
		after: func(t *testing.T, _ *harness.Sent, got harness.RawAnswer, _ *harness.RawConn) {
			if got.Body != "got 11 bytes\n" {
				t.Fatalf("the server read the chunked body as %q", got.Body)
			}
		}}, thenOK)
}

// TestRawChunked gets a chunked response, then another answer on the same
// connection: the end of the chunked body must be found.
func TestRawChunked(t *testing.T) {
	chunked := step{method: "GET", path: "/chunked/", status: 200,
		after: func(t *testing.T, _ *harness.Sent, got harness.RawAnswer, _ *harness.RawConn) {
			if !got.Chunked || !strings.Contains(got.Body, "chunk 2") {
				t.Fatalf("the server did not answer in chunks: chunked=%v body %q", got.Chunked, got.Body)
			}
		}}
	onOneConn(t, "chunked", chunked, thenOK)
}

// TestRawHead sends HEAD (an answer with Content-Length and no body), then
// GET on the same connection.
func TestRawHead(t *testing.T) {
	onOneConn(t, "head", step{method: "HEAD", path: "/ok/", status: 200}, thenOK)
}

// TestRawNoBodyStatuses gets 204 and 304 (no body whatever the headers
// say), then 200, on one connection.
func TestRawNoBodyStatuses(t *testing.T) {
	onOneConn(t, "nobody", step{method: "GET", path: "/status/204/", status: 204},
		step{method: "GET", path: "/status/304/", status: 304}, thenOK)
}

// TestRawNginxNoBody sends HEAD for a static file, gets a 204, then the
// file, on one connection to nginx.
func TestRawNginxNoBody(t *testing.T) {
	ngx := harness.StartNginx(t)
	onOneConnTo(t, ngx.PID(), ngx.Addr, "nginx-nobody", step{method: "HEAD", path: "/static/", status: 200},
		step{method: "GET", path: "/status/204/", status: 204}, step{method: "GET", path: "/static/", status: 200})
}

// TestRawConnectionClose sends Connection: close; the server answers and
// closes, and the record has every byte the client read before the end.
func TestRawConnectionClose(t *testing.T) {
	onOneConn(t, "close", step{method: "GET", path: "/ok/", status: 200, extra: []string{"Connection: close"},
		after: func(t *testing.T, _ *harness.Sent, _ harness.RawAnswer, c *harness.RawConn) {
			if rest := c.ReadToEOF(t); rest != 0 {
				t.Fatalf("%d bytes after the answer to Connection: close", rest)
			}
		}})
}

// TestRawExpectContinue sends headers with Expect: 100-continue, waits for
// the interim 100, sends the body, and gets the final 200; the record has
// the final status and the whole request.
func TestRawExpectContinue(t *testing.T) {
	srv := harness.StartGoServer(t)
	tr := trace(t, srv.PID())
	c := harness.DialRaw(t, srv.Addr)
	id := harness.NewID("continue")
	path := "/body/" + id
	body := "eleven byte"
	head := harness.RequestText("POST", path, id, "Expect: 100-continue", fmt.Sprintf("Content-Length: %d", len(body)))
	c.Send(t, head)
	interim := c.Read(t, "POST")
	if interim.Status != 100 {
		t.Fatalf("the server answered Expect: 100-continue with %d", interim.Status)
	}
	c.Send(t, body)
	final := c.Read(t, "POST")
	s := c.Sent("POST", path, id, int64(len(head)+len(body)), final)
	expectStatus(t, s, 200)
	s.MaxResponseBytes = final.Bytes + interim.Bytes // the interim answer may count or not
	id = harness.NewID("continue")
	next := c.Exchange(t, "GET", "/ok/"+id, id)
	expectStatus(t, next, 200)
	finish(t, tr, "raw", []harness.Sent{s, next})
}
