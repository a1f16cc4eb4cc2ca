// The syscall-path server: every way a request can be read and a response
// written on a socket must produce the exchange.
package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/pkg/kernel"
	"github.com/httptrace/httptrace/test/harness"
	"github.com/httptrace/httptrace/test/servers/syscalls"
)

// TestSyscallPaths reads requests with each of read, readv, recvfrom and
// recvmsg (one port each) and answers each with write, writev, sendto,
// sendmsg and sendfile (chosen by the path), on one kept-alive connection
// per read path. It prints the paths that produced a right exchange.
func TestSyscallPaths(t *testing.T) {
	srv := harness.StartSyscallServer(t)
	tr := trace(t, srv.PID())
	var sent []harness.Sent
	uses := map[string][]string{} // syscall -> ids of the requests that used it
	for _, rx := range syscalls.Reads {
		addr, ok := srv.Addrs[rx]
		if !ok {
			t.Fatalf("the syscall server has no port for %s: %v", rx, srv.Addrs)
		}
		c := harness.DialRaw(t, addr)
		for _, tx := range syscalls.Writes {
			s, _ := txExchange(t, c, rx, tx, "sys")
			sent = append(sent, s)
			uses[rx] = append(uses[rx], s.ID)
			uses[tx] = append(uses[tx], s.ID)
		}
		c.Close()
	}
	good := finish(t, tr, "", sent)
	var worked []string
	for _, name := range append(append([]string(nil), syscalls.Reads...), syscalls.Writes...) {
		for _, id := range uses[name] {
			if good[id] {
				worked = append(worked, name)
				break
			}
		}
	}
	fmt.Printf("e2e-result: suite=syscalls mode=%s exchanges=%d/%d syscalls=%s\n",
		tr.Mode, len(good), len(sent), strings.Join(worked, ","))
}

// TestStreamIntegrity drives the paths where counting each syscall's bytes
// goes wrong: a server that peeks at every request before reading it (the
// peeked bytes must not count twice) and responses whose body is spliced
// from a pipe (bytes no hooked syscall sees), and clients that half-close
// after their request. Every exchange must be logged
// with its status and exact byte counts, and the summary must count the
// spliced bytes as moved unseen, no more and no less.
func TestStreamIntegrity(t *testing.T) {
	srv := harness.StartSyscallServer(t)
	tr := trace(t, srv.PID())
	var sent []harness.Sent
	spliced := 0
	for _, rx := range syscalls.AllReads() {
		addr, ok := srv.Addrs[rx]
		if !ok {
			t.Fatalf("the syscall server has no port for %s: %v", rx, srv.Addrs)
		}
		c := harness.DialRaw(t, addr)
		for _, tx := range append(append([]string(nil), syscalls.Writes...), syscalls.MoreWrites...) {
			if !slices.Contains(syscalls.MoreReads, rx) && !slices.Contains(syscalls.MoreWrites, tx) {
				continue
			}
			// Twice per pair on one connection, so that a response spliced
			// before a kept-alive request must not desynchronise the next.
			for range 2 {
				s, got := txExchange(t, c, rx, tx, "integ")
				if tx == "splice" {
					spliced += len(got.Body)
				}
				sent = append(sent, s)
			}
		}
		c.Close()
	}
	// A client that half-closes right after its request: the server's read
	// of the request also consumes the FIN (one sequence number, no byte).
	for _, rx := range syscalls.Reads {
		c := harness.DialRaw(t, srv.Addrs[rx])
		id := harness.NewID("integ")
		path := fmt.Sprintf("/tx/write/%s", id)
		req := harness.RequestText("GET", path, id)
		c.Send(t, req)
		if err := c.Conn.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		got := c.Read(t, "GET")
		s := c.Sent("GET", path, id, int64(len(req)), got)
		expectStatus(t, s, 200)
		sent = append(sent, s)
		c.Close()
	}
	tr.WaitFor(t, waitForLogs, harness.AllLogged(sent))
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	good := harness.Check(t, recs, sent)
	harness.CheckSummary(t, sum, recs)
	if sum.BytesUnseen != spliced || sum.Gaps != 0 {
		t.Errorf("summary: bytes_unseen=%d gaps=%d, want %d spliced bytes and no gap: %s",
			sum.BytesUnseen, sum.Gaps, spliced, sum.Line)
	}
	harness.Result("integrity", tr.Mode, good, sent)
}

// TestConnectionEnds has the server end connections without a plain
// close(2): close_range over the fd, dup2 of /dev/null onto it, and a
// close while another thread is blocked reading the socket. Each response
// runs to the connection's end, so it is complete only when httptrace sees
// that end: every exchange must be logged while httptrace still runs (not
// at its stop), and the summary must count the ends.
func TestConnectionEnds(t *testing.T) {
	srv := harness.StartSyscallServer(t)
	tr := trace(t, srv.PID())
	var sent []harness.Sent
	for _, end := range syscalls.Ends {
		for _, rx := range []string{"read", "recvmsg"} {
			c := harness.DialRaw(t, srv.Addrs[rx])
			id := harness.NewID("end")
			path := fmt.Sprintf("/end/%s/%s", end, id)
			req := harness.RequestText("GET", path, id)
			c.Send(t, req)
			got := c.Read(t, "GET")
			s := c.Sent("GET", path, id, int64(len(req)), got)
			expectStatus(t, s, 200)
			if got.Header.Get("X-End") != end {
				t.Fatalf("%s was ended by %q", path, got.Header.Get("X-End"))
			}
			c.Close()
			sent = append(sent, s)
		}
	}
	before := tr.WaitFor(t, waitForLogs, harness.AllLogged(sent))
	if !harness.AllLogged(sent)(before) {
		t.Errorf("%d of %d exchanges logged while httptrace ran: a response that runs to the end of a "+
			"connection ended without close(2) did not complete", len(before), len(sent))
	}
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	good := harness.Check(t, recs, sent)
	harness.CheckSummary(t, sum, recs)
	// close_range and dup2 never pass through close(2); a close while a
	// thread reads may be the last reference or not, by kernel.
	ended, closed := summaryCount(sum.Line, "bpf_conns_ended"), summaryCount(sum.Line, "bpf_conns_closed")
	if want := len(sent) * 2 / len(syscalls.Ends); ended < want || ended+closed < len(sent) {
		t.Errorf("summary counts %d connections ended without close(2) (want %d) and %d closed, for %d: %s",
			ended, want, closed, len(sent), sum.Line)
	}
	harness.Result("ends", tr.Mode, good, sent)
}

// summaryCount reads one numeric field of the summary's JSON line (0 when absent).
func summaryCount(line, key string) int {
	var fields map[string]any
	if json.Unmarshal([]byte(line), &fields) != nil {
		return 0
	}
	n, _ := fields[key].(float64)
	return int(n)
}

// txExchange sends /tx/<tx>/ID on c, a connection to the syscall server's
// port for read path rx, and checks the server answered 200 through rx and tx.
func txExchange(t *testing.T, c *harness.RawConn, rx, tx, prefix string) (harness.Sent, harness.RawAnswer) {
	t.Helper()
	id := harness.NewID(prefix)
	path := fmt.Sprintf("/tx/%s/%s", tx, id)
	req := harness.RequestText("GET", path, id)
	c.Send(t, req)
	got := c.Read(t, "GET")
	s := c.Sent("GET", path, id, int64(len(req)), got)
	expectStatus(t, s, 200)
	if got.Header.Get("X-Rx") != rx || got.Header.Get("X-Tx") != tx {
		t.Fatalf("%s on the %s port was served by rx=%s tx=%s", path, rx, got.Header.Get("X-Rx"), got.Header.Get("X-Tx"))
	}
	return s, got
}

// TestManyIovecs has the server write each response in one writev of 1024
// iovecs, the most the kernel takes: the header section a byte per iovec
// with empty ones between. Each connection carries three such exchanges
// and then a plain one. Where the kernel has bpf_loop (5.17), every iovec
// is copied and every exchange is logged whole. Before it, the legacy
// object (the summary says bpf_object=legacy) copies the first 64 iovecs:
// the records are flagged, the summary counts each cut transfer as iov_cut
// and warns.
func TestManyIovecs(t *testing.T) {
	srv := harness.StartSyscallServer(t)
	tr := trace(t, srv.PID())
	var sent, many []harness.Sent
	for _, rx := range []string{"read", "recvmsg"} {
		c := harness.DialRaw(t, srv.Addrs[rx])
		for range 3 {
			s, _ := txExchange(t, c, rx, syscalls.ManyIovecs, "iov")
			sent, many = append(sent, s), append(many, s)
		}
		s, _ := txExchange(t, c, rx, "write", "iov")
		sent = append(sent, s)
		c.Close()
	}
	tr.WaitFor(t, waitForLogs, harness.AllLogged(sent))
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	harness.CheckSummary(t, sum, recs)
	cut := summaryCount(sum.Line, "bpf_iov_cut")
	legacy := strings.Contains(sum.Line, `"bpf_object":"legacy"`)
	// The kernels this runs on number their releases as upstream does.
	if want := !kernel.AtLeast(kernel.Release(), 5, 17); legacy != want {
		t.Errorf("kernel %s: legacy object %v, want %v: %s", kernel.Release(), legacy, want, sum.Line)
	}
	if !legacy {
		good := harness.Check(t, recs, sent)
		if cut != 0 || strings.Contains(sum.Line, `"level":"warning"`) {
			t.Errorf("summary: bpf_iov_cut=%d, want 0 and no warning: %s", cut, sum.Line)
		}
		harness.Result("iovecs", tr.Mode, good, sent)
		return
	}
	// The legacy object: the first 64 iovecs hold a few bytes of the
	// status line, so each cut exchange is logged once, flagged (truncated
	// or incomplete), never as a whole one. Pairing on the connection
	// stays unsure after a response whose head was not seen, so the plain
	// exchange after them is only required to be logged once.
	for _, s := range sent {
		var got []harness.Record
		for _, r := range recs {
			if harness.Matches(r, s.ID) {
				got = append(got, r)
			}
		}
		switch {
		case len(got) != 1:
			t.Errorf("%s: logged %d times, want once: %v", s.Path, len(got), got)
		case strings.Contains(s.Path, syscalls.ManyIovecs) && !got[0].Truncated && !got[0].Incomplete:
			t.Errorf("%s: logged as whole, want it flagged truncated or incomplete: %s", s.Path, got[0].Line)
		}
	}
	if cut != len(many) || !strings.Contains(sum.Line, `"level":"warning"`) {
		t.Errorf("summary: bpf_iov_cut=%d, want %d and a warning: %s", cut, len(many), sum.Line)
	}
	fmt.Printf("e2e-result: suite=iovecs mode=%s object=legacy cut=%d/%d\n", tr.Mode, cut, len(many))
}
