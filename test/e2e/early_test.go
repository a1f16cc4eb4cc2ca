// Early responses: nginx answering a POST before it has read its body.
package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/test/harness"
)

// TestEarlyResponses sends nginx POSTs with a 64 KiB body and
// "Expect: 100-continue" to a location that returns at once: nginx sends
// 100 Continue and its final answer before it reads the body. On one connection the client sends the body
// anyway and then a GET; on another it closes after the answer without
// sending the body. Each POST must be logged once, paired with its answer,
// with the request bytes the client sent, and the GET after it as usual.
func TestEarlyResponses(t *testing.T) {
	ngx := harness.StartNginx(t)
	tr := trace(t, ngx.PID())
	const bodyLen = 64 << 10
	post := func(id string) string {
		return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: localhost\r\n%s: %s\r\nContent-Length: %d\r\n"+
			"Expect: 100-continue\r\n\r\n", nginxPaths.post(id), harness.IDHeader, id, bodyLen)
	}
	var sent []harness.Sent
	// answer reads nginx's answer to a POST: a 100 Continue (nginx sends
	// one when it discards a body) and the final response, with their
	// bytes counted either way.
	answer := func(c *harness.RawConn, path, id string, reqBytes int) harness.Sent {
		got := c.Read(t, "POST")
		interim := int64(0)
		if got.Status == 100 {
			interim = got.Bytes
			got = c.Read(t, "POST")
		}
		s := c.Sent("POST", path, id, int64(reqBytes), got)
		s.MaxResponseBytes = s.ResponseBytes + interim
		return s
	}

	// The body sent anyway, then the next request on the same connection.
	c := harness.DialRaw(t, ngx.Addr)
	id := harness.NewID("early")
	req := post(id)
	c.Send(t, req)
	s := answer(c, nginxPaths.post(id), id, len(req)+bodyLen)
	c.Send(t, strings.Repeat("b", bodyLen))
	expectStatus(t, s, 200)
	sent = append(sent, s)
	id = harness.NewID("early")
	s = c.Exchange(t, "GET", nginxPaths.ok(id), id)
	expectStatus(t, s, 200)
	sent = append(sent, s)
	c.Close()

	// The body abandoned: the client closes once it has the answer.
	c = harness.DialRaw(t, ngx.Addr)
	id = harness.NewID("early")
	req = post(id)
	c.Send(t, req)
	s = answer(c, nginxPaths.post(id), id, len(req))
	expectStatus(t, s, 200)
	sent = append(sent, s)
	c.Close()

	finish(t, tr, "early", sent)
}

// TestEarlyResponseGo has Go's net/http answer 413 to a POST without
// reading its 200 KiB body and then serve the next request on the same
// connection: both exchanges are logged, the POST with every byte the client
// sent. (Go discards a body of up to 256 KiB before its buffered answer
// leaves, so on the wire the answer follows the body; nginx, above, answers
// first.)
func TestEarlyResponseGo(t *testing.T) {
	srv := harness.StartGoServer(t)
	tr := trace(t, srv.PID())
	const bodyLen = 200 << 10
	c := harness.DialRaw(t, srv.Addr)
	id := harness.NewID("early-go")
	path := "/status/413/" + id
	req := harness.RequestText("POST", path, id, fmt.Sprintf("Content-Length: %d", bodyLen)) + strings.Repeat("b", bodyLen)
	c.Send(t, req)
	got := c.Read(t, "POST")
	s := c.Sent("POST", path, id, int64(len(req)), got)
	expectStatus(t, s, 413)
	sent := []harness.Sent{s}
	id = harness.NewID("early-go")
	s = c.Exchange(t, "GET", "/ok/"+id, id)
	expectStatus(t, s, 200)
	sent = append(sent, s)
	c.Close()
	finish(t, tr, "early-go", sent)
}
