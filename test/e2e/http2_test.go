// HTTP/2 from the wire: Go's net/http over h2c driven by curl, grpc-go's
// own transport, each stream logged once as an exchange.
package e2e

import (
	"fmt"
	"net/http"
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
		curlH2(t, curl, srv.URL(path), "", want)
		sent = append(sent, harness.Sent{ID: id, Method: "GET", Path: path, Answer: harness.Answer{Status: want}, Proto: "HTTP/2", Server: srv.Addr})
	}
	id := harness.NewID("h2c")
	path := "/post/" + id
	curlH2(t, curl, srv.URL(path), strings.Repeat("b", 3000), 200)
	sent = append(sent, harness.Sent{ID: id, Method: "POST", Path: path, Answer: harness.Answer{Status: 200}, Proto: "HTTP/2", Server: srv.Addr})
	sent = append(sent, harness.H2CConcurrent(t, srv.Addr, "h2c-go", 20)...)
	// Go's trailers over HTTP/2: a header block after the body.
	c := harness.NewH2CClient()
	defer c.Close()
	tid := harness.NewID("h2c-trailers")
	tsent := harness.Sent{ID: tid, Method: "GET", Path: "/trailers/" + tid, Proto: "HTTP/2", Server: srv.Addr}
	var trailer http.Header
	tsent.Answer, trailer = c.Get(t, srv.URL(tsent.Path))
	if trailer.Get("X-Checksum") != "sum-"+tid {
		t.Fatalf("the client got trailers %v", trailer)
	}
	sent = append(sent, tsent)
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
		if harness.Matches(r, tid) && (r.Trailers["x-checksum"] != "sum-"+tid || r.ResponseBytes < harness.TrailerBodyBytes) {
			t.Errorf("trailers %v, response_bytes %d: %s", r.Trailers, r.ResponseBytes, r.Line)
		}
	}
	if len(conns) != 8 {
		t.Errorf("records on %d connections, want 8 (curl's six, Go's two)", len(conns))
	}
}

// TestHTTP2GRPC: grpc-go's client calls grpc-go's health service: unary
// calls answered OK and NOT_FOUND (grpc-status from the trailers), then a
// server-streaming Watch the client cancels (logged incomplete, reset 8:
// CANCEL), and a last unary call.
func TestHTTP2GRPC(t *testing.T) {
	srv := harness.StartGRPCServer(t)
	tr := trace(t, srv.PID())
	calls := harness.GRPCHealth(t, srv.Addr, "grpc", "", "up", "nosuch")
	var sent []harness.Sent
	for i := range calls {
		if calls[i].Method == "Watch" {
			continue
		}
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
	// Each unary call sent one message; an OK answer carried one, a
	// NOT_FOUND none (its status came in a trailers-only response).
	for _, r := range rest {
		want := 1
		if r.GRPCStatus != nil && *r.GRPCStatus != 0 {
			want = 0
		}
		if r.GRPCReqMsgs == nil || *r.GRPCReqMsgs != 1 || r.GRPCRespMsgs == nil || *r.GRPCRespMsgs != want {
			t.Errorf("gRPC messages, want 1 and %d: %s", want, r.Line)
		}
	}
	harness.Result("grpc", tr.Mode, good, sent)
}

// TestHTTP2GRPCLarge: grpc-go writes a 3000-byte answer as HEADERS, DATA
// and trailers in one call; the trailers' header block, after the DATA
// frame, is decoded (the default capture_bytes copies 16 KiB of a call), and
// so is a call on the same connection once the first was logged.
func TestHTTP2GRPCLarge(t *testing.T) {
	srv := harness.StartGRPCServer(t)
	tr := trace(t, srv.PID())
	c := harness.NewGRPCClient(t, srv.Addr)
	defer c.Close()
	ok := harness.GRPCCall{Service: "grpc.health.v1.Health", Method: "Check", Metadata: harness.NewID("grpc-large")}
	first := harness.Sent{ID: ok.Metadata, Method: "POST", Path: "/grpc.health.v1.Health/Check", Answer: harness.Answer{Status: 200},
		Proto: "HTTP/2", Server: srv.Addr, GRPC: &ok}
	c.Health(t, first.ID)
	tr.WaitFor(t, waitForLogs, harness.AllLogged([]harness.Sent{first}))
	rep := harness.GRPCCall{Service: "test.Echo", Method: "Repeat", Metadata: harness.NewID("grpc-large")}
	big := harness.Sent{ID: rep.Metadata, Method: "POST", Path: "/test.Echo/Repeat", Answer: harness.Answer{Status: 200},
		Proto: "HTTP/2", Server: srv.Addr, GRPC: &rep}
	if n := c.Repeat(t, big.ID); n != harness.EchoRepeatBytes {
		t.Fatalf("test.Echo/Repeat answered %d bytes", n)
	}
	finish(t, tr, "", []harness.Sent{first, big})
	for _, r := range tr.Records(t) {
		if harness.Matches(r, big.ID) && r.ResponseBytes < harness.EchoRepeatBytes {
			t.Errorf("response_bytes %d, the answer has %d: %s", r.ResponseBytes, harness.EchoRepeatBytes, r.Line)
		}
	}
}

// TestHTTP2NginxTLS: nginx speaking HTTP/2 over TLS (ALPN h2) to Go's
// client: a file, a file sent as two DATA frames, a 404, on one connection.
func TestHTTP2NginxTLS(t *testing.T) {
	ngx := harness.StartNginxH2TLS(t)
	tr := trace(t, ngx.PID())
	c := harness.NewH2TLSClient()
	defer c.Close()
	var sent []harness.Sent
	for _, p := range []struct {
		dir  string
		want int
	}{{"/static/", 200}, {"/mid/", 200}, {"/status/404/", 404}} {
		s := harness.Sent{ID: harness.NewID("nginx-h2"), Method: "GET", Proto: "HTTP/2", TLS: true, Server: ngx.Addr}
		s.Path = p.dir + s.ID
		s.Answer, _ = c.Get(t, ngx.HTTPS(s.Path))
		if s.Status != p.want {
			t.Fatalf("%s: status %d, want %d", s.Path, s.Status, p.want)
		}
		sent = append(sent, s)
	}
	finish(t, tr, "nginx-h2", sent)
	for _, r := range tr.Records(t) {
		if harness.Matches(r, sent[1].ID) && r.ResponseBytes < harness.MidFileBytes {
			t.Errorf("response_bytes %d, the file has %d: %s", r.ResponseBytes, harness.MidFileBytes, r.Line)
		}
	}
}

// TestHTTP2Adopted: a grpc-go connection opened, and used, before
// httptrace started. Its calls afterwards are logged adopted, from the
// frames: a method called before has its path in the HPACK table httptrace
// never saw, so its path is unresolved (empty, counted), never another; a
// method called for the first time decodes.
func TestHTTP2Adopted(t *testing.T) {
	srv := harness.StartGRPCServer(t)
	c := harness.NewGRPCClient(t, srv.Addr)
	defer c.Close()
	c.Health(t, harness.NewID("h2-before"))
	tr := trace(t, srv.PID())
	again, first := harness.NewID("h2-adopted"), harness.NewID("h2-adopted")
	c.Health(t, again)
	if n := c.Repeat(t, first); n != harness.EchoRepeatBytes {
		t.Fatalf("test.Echo/Repeat answered %d bytes", n)
	}
	tr.WaitFor(t, waitForLogs, func(recs []harness.Record) bool { return len(recs) >= 2 })
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	harness.CheckSummary(t, sum, recs)
	if len(recs) != 2 {
		t.Fatalf("%d records, want the 2 calls made after the start", len(recs))
	}
	for _, r := range recs {
		if !r.Adopted || r.Side != "server" || r.Proto != "HTTP/2" || r.Status != 200 || r.Incomplete || r.Unmatched {
			t.Errorf("not an adopted, complete HTTP/2 exchange: %s", r.Line)
		}
		switch r.Path {
		case "/test.Echo/Repeat":
		case "":
			if r.Unresolved == 0 {
				t.Errorf("no path, none unresolved: %s", r.Line)
			}
		default:
			t.Errorf("path %q: neither call's unresolved nor the new one: %s", r.Path, r.Line)
		}
	}
	if recs[1].Path != "/test.Echo/Repeat" && recs[0].Path != "/test.Echo/Repeat" {
		t.Errorf("the method called for the first time has no path")
	}
}

// TestHTTP2Upgrade: curl asks Go's x/net h2c handler to upgrade an
// HTTP/1.1 request to h2c; the answer comes on stream 1, in frames, and is
// logged with the request that asked (proto HTTP/1.1, stream 1), once.
func TestHTTP2Upgrade(t *testing.T) {
	curl := harness.NeedBinary(t, "curl")
	srv := harness.StartH2CUpgradeServer(t)
	tr := trace(t, srv.PID())
	id := harness.NewID("h2c-upgrade")
	path := "/ok/" + id
	out, err := exec.Command(curl, "-s", "--http2", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
		srv.URL(path)).CombinedOutput()
	if err != nil || string(out) != "2 200" {
		t.Fatalf("curl --http2 (upgrade): %q %v, want HTTP/2 and 200", out, err)
	}
	sent := []harness.Sent{{ID: id, Method: "GET", Path: path, Answer: harness.Answer{Status: 200}, Proto: "HTTP/1.1", Stream: 1, Server: srv.Addr}}
	finish(t, tr, "h2c-upgrade", sent)
}

// curlH2 sends a GET, or a POST of data, with curl over HTTP/2 without TLS
// (prior knowledge), and fails the test unless it was answered over
// HTTP/2 with want.
func curlH2(t *testing.T, curl, url, data string, want int) {
	t.Helper()
	args := []string{"-s", "--http2-prior-knowledge", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_version} %{http_code}"}
	if data != "" {
		args = append(args, "--data-binary", data)
	}
	out, err := exec.Command(curl, append(args, url)...).CombinedOutput()
	if err != nil || string(out) != fmt.Sprintf("2 %d", want) {
		t.Fatalf("curl %s: %q %v, want HTTP/2 and %d", url, out, err, want)
	}
}
