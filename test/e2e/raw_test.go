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

// TestRawPipelined sends three requests in one write; the answers are 200,
// 404, 200 in order, and so are the records, on one connection.
func TestRawPipelined(t *testing.T) {
	srv := harness.StartGoServer(t)
	tr := trace(t, srv.PID())
	c := harness.DialRaw(t, srv.Addr)
	ids := []string{harness.NewID("pipe"), harness.NewID("pipe"), harness.NewID("pipe")}
	reqPaths := []string{"/ok/" + ids[0], "/status/404/" + ids[1], "/ok/" + ids[2]}
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
	finish(t, tr, "", sent)
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
	finish(t, tr, "", sent)
}

// TestRawLargeHeader sends a 12 KiB header, then a short request on the
// same connection. The big header section may be cut in the record
// (truncated), but both exchanges must be there, with their sizes.
func TestRawLargeHeader(t *testing.T) {
	srv := harness.StartGoServer(t)
	tr := trace(t, srv.PID())
	c := harness.DialRaw(t, srv.Addr)
	id := harness.NewID("big")
	big := c.Exchange(t, "GET", "/big/"+id, id, "X-Big: "+strings.Repeat("b", 12*1024))
	expectStatus(t, big, 200)
	big.AnyTruncated = true
	id = harness.NewID("big")
	next := c.Exchange(t, "GET", "/after-big/"+id, id)
	expectStatus(t, next, 200)
	finish(t, tr, "", []harness.Sent{big, next})
}

// TestRawChunked gets a chunked response, then another answer on the same
// connection: the end of the chunked body must be found.
func TestRawChunked(t *testing.T) {
	srv := harness.StartGoServer(t)
	tr := trace(t, srv.PID())
	c := harness.DialRaw(t, srv.Addr)
	id := harness.NewID("chunked")
	req := harness.RequestText("GET", "/chunked/"+id, id)
	c.Send(t, req)
	got := c.Read(t, "GET")
	if !got.Chunked || !strings.Contains(got.Body, "chunk 2") {
		t.Fatalf("the server did not answer in chunks: chunked=%v body %q", got.Chunked, got.Body)
	}
	chunked := c.Sent("GET", "/chunked/"+id, id, int64(len(req)), got)
	expectStatus(t, chunked, 200)
	id = harness.NewID("chunked")
	next := c.Exchange(t, "GET", "/ok/"+id, id)
	expectStatus(t, next, 200)
	finish(t, tr, "", []harness.Sent{chunked, next})
}

// TestRawHead sends HEAD (an answer with Content-Length and no body), then
// GET on the same connection.
func TestRawHead(t *testing.T) {
	srv := harness.StartGoServer(t)
	tr := trace(t, srv.PID())
	c := harness.DialRaw(t, srv.Addr)
	id := harness.NewID("head")
	head := c.Exchange(t, "HEAD", "/ok/"+id, id)
	expectStatus(t, head, 200)
	id = harness.NewID("head")
	next := c.Exchange(t, "GET", "/ok/"+id, id)
	expectStatus(t, next, 200)
	finish(t, tr, "", []harness.Sent{head, next})
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
	finish(t, tr, "", []harness.Sent{s, next})
}

// TestRawNoBodyStatuses gets 204 and 304 (no body whatever the headers
// say), then 200, on one connection.
func TestRawNoBodyStatuses(t *testing.T) {
	srv := harness.StartGoServer(t)
	tr := trace(t, srv.PID())
	c := harness.DialRaw(t, srv.Addr)
	var sent []harness.Sent
	for _, code := range []int{204, 304, 200} {
		id := harness.NewID("nobody")
		s := c.Exchange(t, "GET", fmt.Sprintf("/status/%d/%s", code, id), id)
		expectStatus(t, s, code)
		sent = append(sent, s)
	}
	finish(t, tr, "", sent)
}

// TestRawConnectionClose sends Connection: close; the server answers and
// closes, and the record has every byte the client read before the end.
func TestRawConnectionClose(t *testing.T) {
	srv := harness.StartGoServer(t)
	tr := trace(t, srv.PID())
	c := harness.DialRaw(t, srv.Addr)
	id := harness.NewID("close")
	s := c.Exchange(t, "GET", "/ok/"+id, id, "Connection: close")
	expectStatus(t, s, 200)
	if rest := c.ReadToEOF(t); rest != 0 {
		t.Fatalf("%d bytes after the answer to Connection: close", rest)
	}
	finish(t, tr, "", []harness.Sent{s})
}
