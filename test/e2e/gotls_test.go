// HTTPS from Go's crypto/tls: uprobes at (*Conn).Read and Write, past
// their stack checks, and at their RET instructions.
package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// TestTLSGoAdopted: a Go server's connection opened before httptrace,
// its goroutine already in (*Conn).Read when the probes attach. That
// Read's return finds no call saved (tls_returns_unsaved): the request it
// read goes unseen, and its answer is logged unmatched; the next request
// on the connection is logged whole, adopted.
func TestTLSGoAdopted(t *testing.T) {
	srv := harness.StartGoTLSServer(t)
	tr, sent := adoptedTLS(t, srv.Addr, srv.PID(), "/ok/", "tls-go-adopted")
	tr.WaitFor(t, waitForLogs, harness.AllLogged(sent[1:]))
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	var answers []harness.Record
	for _, r := range recs {
		if r.Unmatched {
			answers = append(answers, r)
		}
	}
	if len(answers) != 1 || answers[0].Status != 200 || !answers[0].Adopted || !answers[0].TLS {
		t.Errorf("%d unmatched records, want the first request's answer (200, adopted, tls): %v", len(answers), answers)
	}
	// The rest: the second request, logged whole, and nothing else.
	rest := slices.DeleteFunc(slices.Clone(recs), func(r harness.Record) bool { return r.Unmatched })
	good := harness.Check(t, rest, sent[1:])
	harness.CheckSummary(t, sum, recs)
	if sum.BPFTLSReturnsUnsaved != 1 || !strings.Contains(sum.Line, "1 Go TLS reads whose call was not saved (in flight when their probes attached") {
		t.Errorf("summary: bpf_tls_returns_unsaved=%d, want 1, and said: %s", sum.BPFTLSReturnsUnsaved, sum.Line)
	}
	harness.Result("tls", tr.Mode, good, sent[1:])
}

// goTLS sends the Go TLS mix to srv: new connections, a kept-alive one,
// and two requests pipelined on one connection.
func goTLS(t *testing.T, srv *harness.Server, prefix, path string) []harness.Sent {
	t.Helper()
	var sent []harness.Sent
	for _, keep := range []bool{false, true} {
		c := harness.NewTLSClient(keep)
		for i := 0; i < 3; i++ {
			id := harness.NewID(prefix)
			a := c.Do(t, "GET", srv.HTTPS(path+id), "", map[string]string{harness.IDHeader: id})
			sent = append(sent, harness.Sent{ID: id, Method: "GET", Path: path + id, Answer: a, TLS: true, Server: srv.Addr})
		}
		c.Close()
	}
	conn := tlsDial(t, srv.Addr)
	p1, p2 := harness.NewID(prefix), harness.NewID(prefix)
	if _, err := conn.Write([]byte(harness.RequestText("GET", path+p1, p1) + harness.RequestText("GET", path+p2, p2))); err != nil {
		t.Fatal(err)
	}
	st := readAnswers(t, bufio.NewReader(conn), "GET", 2)
	sent = append(sent, harness.Sent{ID: p1, Method: "GET", Path: path + p1, Answer: harness.Answer{Status: st[0]}, TLS: true, Server: srv.Addr},
		harness.Sent{ID: p2, Method: "GET", Path: path + p2, Answer: harness.Answer{Status: st[1]}, TLS: true, Server: srv.Addr})
	return sent
}

// TestTLSGo traces Go net/http over crypto/tls, in a binary with symbols
// (this test binary) and in one with none (-s -w): crypto/tls is probed
// at its entries and RET instructions, found through .symtab and through
// .gopclntab.
func TestTLSGo(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start func(testing.TB) *harness.Server
	}{
		{"symbols", harness.StartGoTLSServer},
		{"stripped", harness.StartStrippedGoTLSServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.start(t)
			tr := trace(t, srv.PID())
			sent := goTLS(t, srv, "tls-go-"+tc.name, "/ok/")
			finish(t, tr, "tls", sent)
		})
	}
}

// TestTLSGoStackGrowth writes each answer from a new goroutine at a depth
// of its own, over a span of depths that covers a new stack's end: at
// some of them crypto/tls's Write finds the stack short, grows it, and
// runs its first instructions again. Each exchange is logged once, its
// bytes once.
func TestTLSGoStackGrowth(t *testing.T) {
	srv := harness.StartGoTLSServer(t)
	tr := trace(t, srv.PID())
	c := harness.NewTLSClient(false)
	defer c.Close()
	var sent []harness.Sent
	for depth := 0; depth < 64; depth++ {
		id := harness.NewID("tls-go-deep")
		path := fmt.Sprintf("/deep/%d/%s", depth, id)
		a := c.Do(t, "GET", srv.HTTPS(path), "", map[string]string{harness.IDHeader: id})
		// The 8 KiB body and its head: a write sent twice would show.
		sent = append(sent, harness.Sent{ID: id, Method: "GET", Path: path, Answer: a, TLS: true, Server: srv.Addr,
			ResponseBytes: 8192, MaxResponseBytes: 8192 + 512})
	}
	tr.WaitFor(t, waitForLogs, harness.AllLogged(sent))
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	good := harness.Check(t, recs, sent)
	harness.CheckSummary(t, sum, recs)
	// The depths must reach the stack's end, or the test tests nothing.
	srv.WaitLine(t, false, func(l string) bool { return strings.HasSuffix(l, "the stack grew in Write") }, 5*time.Second)
	if sum.BPFTLSReturnsUnsaved != 0 {
		t.Errorf("summary: bpf_tls_returns_unsaved=%d, want 0 (every call began after the attach): %s", sum.BPFTLSReturnsUnsaved, sum.Line)
	}
	if sum.BPFTLSWriteFailed != 0 {
		t.Errorf("summary: bpf_tls_write_failed=%d, want 0 (every write went whole): %s", sum.BPFTLSWriteFailed, sum.Line)
	}
	fmt.Printf("e2e-result: suite=tls mode=%s exchanges=%d/%d\n", tr.Mode, len(good), len(sent))
}

// TestTLSGoWriteFailed: a client that hangs up mid-answer makes the Go
// server's (*Conn).Write fail part-way. Its bytes were logged at its
// entry; the summary counts the write and warns that the peer did not get
// them all.
func TestTLSGoWriteFailed(t *testing.T) {
	srv := harness.StartGoTLSServer(t)
	tr := trace(t, srv.PID())
	conn := tlsDial(t, srv.Addr)
	id := harness.NewID("tls-go-hangup")
	if _, err := conn.Write([]byte(harness.RequestText("GET", "/bytes/16000000/"+id, id))); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: "GET"})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("answer: %v %v", resp, err)
	}
	// Hang up with the answer's bytes unread: the kernel resets the
	// connection, and the server's write in flight fails.
	conn.Close()
	tr.WaitFor(t, waitForLogs, func(recs []harness.Record) bool {
		for _, r := range recs {
			if harness.Matches(r, id) {
				return true
			}
		}
		return false
	})
	sum := tr.StopAndSummary(t)
	if sum.BPFTLSWriteFailed < 1 || !strings.Contains(sum.Line, "Go TLS writes failed after their bytes were logged") {
		// The field is the count; the words are what a user reads.
		t.Errorf("summary: bpf_tls_write_failed=%d, want >= 1 and said: %s", sum.BPFTLSWriteFailed, sum.Line)
	}
}

// TestTLSCaddy traces Debian's Caddy: a stripped Go binary built by go1.19
// and linked by the C linker, the oldest Go the tests meet (TestTLSGo's is
// the newest). curl's default over TLS, HTTP/2 by ALPN, is logged as an
// HTTP/2 exchange.
func TestTLSCaddy(t *testing.T) {
	curl := harness.NeedBinary(t, "curl")
	srv := harness.StartCaddy(t)
	tr := trace(t, srv.PID())
	sent := goTLS(t, srv, "tls-caddy", "/caddy/")
	id := harness.NewID("tls-caddy-h2")
	path := "/caddy/h2/" + id
	out, err := exec.Command(curl, "-sk", "--http2", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
		srv.HTTPS(path)).CombinedOutput()
	if err != nil || string(out) != "2 200" {
		t.Fatalf("curl --http2: %q %v, want HTTP/2 and 200", out, err)
	}
	sent = append(sent, harness.Sent{ID: id, Method: "GET", Path: path, Answer: harness.Answer{Status: 200}, Proto: "HTTP/2", TLS: true, Server: srv.Addr})
	tr.WaitFor(t, waitForLogs, harness.AllLogged(sent))
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	good := harness.Check(t, recs, sent)
	harness.CheckSummary(t, sum, recs)
	if sum.ConnsHTTP2 != 1 {
		t.Errorf("summary: conns_http2=%d, want the one HTTP/2 connection: %s", sum.ConnsHTTP2, sum.Line)
	}
	harness.Result("tls", tr.Mode, good, sent)
}

// TestTLSGoWrapped: a Go server hands crypto/tls each connection wrapped
// in a type of its own, not the *net.TCPConn whose socket the probes read.
// No connection is found under its calls (for this wrapper the probes'
// reads through the *net.TCPConn layout lead to no fd): each is counted
// (tls_unplaced) and the summary says the plaintext was not logged;
// nothing is logged, neither plaintext nor ciphertext.
func TestTLSGoWrapped(t *testing.T) {
	srv := harness.StartWrappedGoTLSServer(t)
	tr := trace(t, srv.PID())
	c := harness.NewTLSClient(true)
	const n = 4
	for i := 0; i < n; i++ {
		id := harness.NewID("tls-go-wrapped")
		if a := c.Do(t, "GET", srv.HTTPS("/ok/"+id), "", map[string]string{harness.IDHeader: id}); a.Status != 200 {
			t.Fatalf("request %d: status %d", i, a.Status)
		}
	}
	c.Close()
	time.Sleep(500 * time.Millisecond) // what would be logged, logged
	sum := tr.StopAndSummary(t)
	if recs := tr.Records(t); len(recs) != 0 {
		t.Errorf("%d records logged, want none: %v", len(recs), recs)
	}
	// Each request is a Read and a Write at least.
	if sum.BPFTLSUnplaced < 2*n || !strings.Contains(sum.Line, "TLS calls whose connection was not found") {
		t.Errorf("summary: bpf_tls_unplaced=%d, want at least %d, and said: %s", sum.BPFTLSUnplaced, 2*n, sum.Line)
	}
	if sum.BPFTLSReturnsUnsaved != 0 {
		t.Errorf("summary: bpf_tls_returns_unsaved=%d, want 0 (each unplaced call's return finds its mark): %s", sum.BPFTLSReturnsUnsaved, sum.Line)
	}
	fmt.Printf("e2e-result: suite=tls mode=%s tls_unplaced=%d\n", tr.Mode, sum.BPFTLSUnplaced)
}
