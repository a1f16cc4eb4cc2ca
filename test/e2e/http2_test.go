// HTTP/2 from the wire: Go's net/http over h2c driven by curl, grpc-go's
// own transport, each stream logged once as an exchange.
package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/test/harness"
)

// TestHTTP2H2C: curl sends five GETs and a POST with a body, each on a
// connection of its own (curl 7.88 stalls on a second request over a
// prior-knowledge connection); Go's client sends twenty requests at once,
// concurrent streams on one connection. The server is Go's net/http
// serving HTTP/2 without TLS (prior knowledge).
func TestHTTP2H2C(t *testing.T) {
	curl := harness.NeedBinary(t, "curl")
	srv := harness.StartH2CServer(t)
	tr := trace(t, srv.PID())
	var sent []harness.Sent
	for i := 0; i < 5; i++ {
		id := harness.NewID("h2c")
		path, want := "/ok/"+id, 200
		if i == 3 {
			path, want = "/status/404/"+id, 404
		}
		out, err := exec.Command(curl, "-s", "--http2-prior-knowledge", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
			srv.URL(path)).CombinedOutput()
		if err != nil || string(out) != fmt.Sprintf("2 %d", want) {
			t.Fatalf("curl: %q %v, want HTTP/2 and %d", out, err, want)
		}
		sent = append(sent, harness.Sent{ID: id, Method: "GET", Path: path, Answer: harness.Answer{Status: want}, Proto: "HTTP/2", Server: srv.Addr})
	}
	id := harness.NewID("h2c")
	path := "/post/" + id
	out, err := exec.Command(curl, "-s", "--http2-prior-knowledge", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
		"--data-binary", strings.Repeat("b", 3000), srv.URL(path)).CombinedOutput()
	if err != nil || string(out) != "2 200" {
		t.Fatalf("curl POST: %q %v", out, err)
	}
	sent = append(sent, harness.Sent{ID: id, Method: "POST", Path: path, Answer: harness.Answer{Status: 200}, Proto: "HTTP/2", Server: srv.Addr})
	sent = append(sent, harness.H2CConcurrent(t, srv.Addr, "h2c-go", 20)...)
	finish(t, tr, "http2", sent)
	conns := map[uint64]map[uint32]bool{}
	for _, r := range tr.Records(t) {
		if conns[r.Conn] == nil {
			conns[r.Conn] = map[uint32]bool{}
		}
		if conns[r.Conn][r.Stream] {
			t.Errorf("stream %d of connection %d logged twice: %s", r.Stream, r.Conn, r.Line)
		}
		conns[r.Conn][r.Stream] = true
		if !strings.HasPrefix(r.Authority, "127.0.0.1:") {
			t.Errorf("authority %q, want the server's address: %s", r.Authority, r.Line)
		}
	}
	if len(conns) != 7 {
		t.Errorf("records on %d connections, want 7 (curl's six, Go's one)", len(conns))
	}
}

// TestHTTP2GRPC: grpc-go's client calls grpc-go's health service: unary
// calls answered OK and NOT_FOUND (grpc-status from the trailers), then a
// server-streaming Watch the client cancels (logged incomplete, reset 8:
// CANCEL).
func TestHTTP2GRPC(t *testing.T) {
	srv := harness.StartGRPCServer(t)
	tr := trace(t, srv.PID())
	calls := harness.GRPCHealth(t, srv.Addr, "grpc", "", "up", "nosuch")
	var sent []harness.Sent
	for i := range calls[:3] {
		c := &calls[i]
		sent = append(sent, harness.Sent{ID: c.Metadata, Method: "POST", Path: "/" + c.Service + "/" + c.Method,
			Answer: harness.Answer{Status: 200}, Proto: "HTTP/2", Server: srv.Addr, GRPC: c})
	}
	watch := calls[3]
	tr.WaitFor(t, waitForLogs, harness.AllLogged(append(sent[:len(sent):len(sent)], harness.Sent{ID: watch.Metadata})))
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	var rest []harness.Record
	for _, r := range recs {
		if harness.Matches(r, watch.Metadata) {
			if r.GRPCMethod != "Watch" || r.Status != 200 || !r.Incomplete || r.Gap || r.Reset == nil || *r.Reset != 8 {
				t.Errorf("the cancelled Watch: %s", r.Line)
			}
			continue
		}
		rest = append(rest, r)
	}
	good := harness.Check(t, rest, sent)
	harness.CheckSummary(t, sum, recs)
	harness.Result("grpc", tr.Mode, good, sent)
}
