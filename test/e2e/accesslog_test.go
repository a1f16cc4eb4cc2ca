// nginx's own access log against httptrace's records, request by request.
package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// TestNginxAccessLog sends nginx a workload of the shapes that are easy to
// count wrong, then compares each record with the line nginx logged for
// the same request: status, request length ($request_length, which leaves
// out a body nginx discarded) and bytes sent ($bytes_sent, which counts a
// 100 Continue as httptrace does). The shapes: HTTP/1.0; a 304 and a 206; HEAD; a 2 MiB
// file (sendfile); a percent-encoded target; a POST with
// "Expect: 100-continue" that nginx answers before reading the body; a
// chunked upload; three requests pipelined in one write on a kept-alive
// connection.
func TestNginxAccessLog(t *testing.T) {
	ngx := harness.StartNginx(t)
	tr := trace(t, ngx.PID())
	var ids []string
	// discarded is, by id, the body bytes of a request nginx answered at a
	// return location: it reads and discards them, and $request_length
	// leaves them out, where httptrace counts the bytes on the wire.
	discarded := map[string]int64{}
	raw := func(c *harness.RawConn, method, text, id string, reads int) {
		t.Helper()
		c.Send(t, text)
		for range reads {
			c.Read(t, method)
		}
		ids = append(ids, id)
	}
	req := func(method, target, proto, id string, extra ...string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s %s\r\nHost: localhost\r\n%s: %s\r\n", method, target, proto, harness.IDHeader, id)
		for _, h := range extra {
			b.WriteString(h + "\r\n")
		}
		b.WriteString("\r\n")
		return b.String()
	}
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)

	c := harness.DialRaw(t, ngx.Addr)
	id := harness.NewID("alog")
	raw(c, "GET", req("GET", "/static/"+id, "HTTP/1.1", id, "If-Modified-Since: "+future), id, 1) // 304
	id = harness.NewID("alog")
	raw(c, "GET", req("GET", "/static/"+id, "HTTP/1.1", id, "Range: bytes=0-99"), id, 1) // 206
	id = harness.NewID("alog")
	raw(c, "HEAD", req("HEAD", "/static/"+id, "HTTP/1.1", id), id, 1)
	id = harness.NewID("alog")
	raw(c, "GET", req("GET", "/big/"+id, "HTTP/1.1", id), id, 1) // 2 MiB, sendfile
	id = harness.NewID("alog")
	raw(c, "GET", req("GET", "/static/%7E"+id+"%20x?q=%2F", "HTTP/1.1", id), id, 1)
	id = harness.NewID("alog")
	chunks := "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
	raw(c, "POST", req("POST", "/post/"+id, "HTTP/1.1", id, "Transfer-Encoding: chunked")+chunks, id, 1)
	discarded[id] = int64(len(chunks))
	// Three pipelined in one write.
	var pipe strings.Builder
	var pipeIDs []string
	for range 3 {
		id := harness.NewID("alog")
		pipeIDs = append(pipeIDs, id)
		pipe.WriteString(req("GET", "/status/200/"+id, "HTTP/1.1", id))
	}
	c.Send(t, pipe.String())
	for range 3 {
		c.Read(t, "GET")
	}
	ids = append(ids, pipeIDs...)
	c.Close()

	// HTTP/1.0, which nginx closes after.
	c = harness.DialRaw(t, ngx.Addr)
	id = harness.NewID("alog")
	raw(c, "GET", req("GET", "/static/"+id, "HTTP/1.0", id), id, 1)
	c.Close()

	// Expect: 100-continue to a location that returns at once; the body is
	// sent after the answer.
	c = harness.DialRaw(t, ngx.Addr)
	id = harness.NewID("alog")
	c.Send(t, req("POST", "/post/"+id, "HTTP/1.1", id, "Content-Length: 65536", "Expect: 100-continue"))
	if got := c.Read(t, "POST"); got.Status == 100 {
		c.Read(t, "POST")
	}
	c.Send(t, strings.Repeat("b", 65536))
	ids = append(ids, id)
	discarded[id] = 65536
	id = harness.NewID("alog")
	raw(c, "GET", req("GET", "/status/200/"+id, "HTTP/1.1", id), id, 1)
	c.Close()

	logged := func(recs []harness.Record) bool {
		n := 0
		for _, id := range ids {
			for _, r := range recs {
				if harness.Matches(r, id) {
					n++
					break
				}
			}
		}
		return n == len(ids)
	}
	tr.WaitFor(t, waitForLogs, logged)
	time.Sleep(200 * time.Millisecond) // nginx writes its log line after the response
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	access := ngx.AccessLog(t)
	good := 0
	for _, id := range ids {
		e, ok := access[id]
		if !ok {
			t.Errorf("%s: not in nginx's access log", id)
			continue
		}
		var rs []harness.Record
		for _, r := range recs {
			if harness.Matches(r, id) {
				rs = append(rs, r)
			}
		}
		if len(rs) != 1 {
			t.Errorf("%s (%s): %d records, want 1", id, e.Request, len(rs))
			continue
		}
		r := rs[0]
		if r.Status != e.Status || r.RequestBytes-discarded[id] != e.RequestLength || r.ResponseBytes != e.BytesSent ||
			r.Incomplete || r.Unmatched || r.Gap {
			t.Errorf("%s (%s): httptrace status %d, request %d, response %d bytes; nginx %d, %d, %d\n%s",
				id, e.Request, r.Status, r.RequestBytes, r.ResponseBytes, e.Status, e.RequestLength, e.BytesSent, r.Line)
			continue
		}
		good++
	}
	harness.CheckSummary(t, sum, recs)
	fmt.Printf("e2e-result: suite=accesslog mode=%s exchanges=%d/%d\n", tr.Mode, good, len(ids))
}
