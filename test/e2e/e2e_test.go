// End-to-end tests: httptrace traces real servers, in the attach mode named
// by $HTTPTRACE_ATTACH (tracepoint on the development machines, both modes in
// the kernel matrix). They run as root.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/kernel"
	"github.com/httptrace/httptrace/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// inGuest is set by the kernel matrix, whose guests have no curl and no node.
var inGuest = os.Getenv("HTTPTRACE_E2E_GUEST") != ""

const (
	trackedRequests   = 6
	untrackedRequests = 3
	waitForEvents     = 20 * time.Second
)

// sent is a request the test made and expects (or not) to see.
type sent struct {
	pid  int
	path string
	id   string
}

func TestE2EGoServer(t *testing.T) {
	harness.RequireRoot(t)
	tracked := harness.StartGoServer(t)
	untracked := harness.StartGoServer(t)
	runScenario(t, tracked, untracked)
}

func TestE2ENodeServer(t *testing.T) {
	harness.RequireRoot(t)
	if inGuest {
		if _, err := exec.LookPath("node"); err != nil {
			t.Skip("no Node.js in the matrix guest; the host runs this test")
		}
	}
	tracked := harness.StartNodeServer(t)
	untracked := harness.StartNodeServer(t)
	runScenario(t, tracked, untracked)
}

// runScenario traces one server while an identical untracked one also gets
// requests, and checks every request to the tracked one is logged exactly
// once with the right pid, method, path and header, and nothing else is.
func runScenario(t *testing.T, tracked, untracked *harness.Server) {
	mode := harness.Mode()
	tr := harness.StartTracer(t, mode, []int{tracked.PID()})
	if tr.Mode != mode {
		t.Fatalf("asked for %s mode, httptrace reports %s", mode, tr.Mode)
	}

	run := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano())
	var want []sent
	for i := 0; i < trackedRequests; i++ {
		s := sent{tracked.PID(), fmt.Sprintf("/tracked/%d?run=%s", i, run), fmt.Sprintf("t-%s-%d", run, i)}
		harness.Get(t, tracked.URL(s.path), map[string]string{"X-Test-Id": s.id})
		want = append(want, s)
	}
	for i := 0; i < untrackedRequests; i++ {
		harness.Get(t, untracked.URL(fmt.Sprintf("/untracked/%d", i)), map[string]string{"X-Test-Id": fmt.Sprintf("u-%s-%d", run, i)})
	}

	tr.WaitRecords(t, len(want), waitForEvents)
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	captured := checkExactlyOnce(t, recs, want)

	for _, r := range recs {
		if r.PID != tracked.PID() || strings.HasPrefix(r.Path, "/untracked/") {
			t.Errorf("logged a request of an untracked process: %+v", r)
		}
	}
	if sum.Requests != len(recs) || sum.LostEvents != 0 || sum.EventsDropped != 0 || sum.DecodeErrors != 0 {
		t.Errorf("summary %+v for %d logged requests", sum, len(recs))
	}
	fmt.Printf("e2e-result: attach=%s expected=%d captured=%d missed=%d kernel_missed=%s\n",
		tr.Mode, len(want), captured, sum.Missed(), sum.KernelMissed())
	if rel := kernel.Release(); mode == "kprobe" && kernel.AtLeast(rel, 6, 7) && sum.KprobeMissed == nil {
		t.Errorf("kernel %s should give the kprobe miss count; the summary has none", rel)
	}
}

// checkExactlyOnce matches records to the requests sent by their unique
// header and returns how many were logged exactly once and correctly.
func checkExactlyOnce(t *testing.T, recs []harness.Record, want []sent) int {
	t.Helper()
	byID := map[string][]harness.Record{}
	for _, r := range recs {
		byID[r.Headers["X-Test-Id"]] = append(byID[r.Headers["X-Test-Id"]], r)
	}
	good := 0
	for _, w := range want {
		got := byID[w.id]
		if len(got) != 1 {
			t.Errorf("request %s (%s) logged %d times, want once", w.id, w.path, len(got))
			continue
		}
		r := got[0]
		if r.PID != w.pid || r.Method != "GET" || r.Path != w.path || r.Proto != "HTTP/1.1" || r.Truncated {
			t.Errorf("request %s logged as %+v; want pid %d GET %s HTTP/1.1, not truncated", w.id, r, w.pid, w.path)
			continue
		}
		good++
	}
	return good
}

// TestE2EKeepAlive sends several requests over one connection to the Go
// server, which may read the first byte of a later request on its own (in
// its background read, while a handler runs); every request must still be
// logged once, whole.
func TestE2EKeepAlive(t *testing.T) {
	harness.RequireRoot(t)
	srv := harness.StartGoServer(t)
	tr := harness.StartTracer(t, harness.Mode(), []int{srv.PID()})

	client := harness.NewKeepAlive()
	var want []sent
	for i := 0; i < trackedRequests; i++ {
		s := sent{srv.PID(), fmt.Sprintf("/keep-alive/%d", i), fmt.Sprintf("k-%d-%d", os.Getpid(), i)}
		client.Get(t, srv.URL(s.path), "X-Test-Id", s.id)
		want = append(want, s)
	}
	client.Close()
	// The second request arrives while the first is handled: its first
	// byte is read alone, always.
	harness.SendDuring(t, srv.Addr, "/slow", "/during-slow", map[string]string{"X-Test-Id": "d"})
	want = append(want, sent{srv.PID(), "/slow", "d-slow"}, sent{srv.PID(), "/during-slow", "d-during-slow"})

	tr.WaitRecords(t, len(want), waitForEvents)
	tr.StopAndSummary(t)
	recs := tr.Records(t)
	checkExactlyOnce(t, recs, want)
	// Events come through per-CPU buffers, so pick the keep-alive ones by
	// path, not by position.
	fds := map[int]bool{}
	for _, r := range recs {
		if strings.HasPrefix(r.Path, "/keep-alive/") {
			fds[r.FD] = true
		}
	}
	if len(fds) != 1 {
		t.Errorf("keep-alive requests came on %d sockets, want 1: %v", len(fds), fds)
	}
}

// TestE2ENoFalseCaptures checks a tracked process reading a regular file
// produces nothing, and that once a connection is closed, a file opened on
// the same fd number is not traced.
func TestE2ENoFalseCaptures(t *testing.T) {
	harness.RequireRoot(t)
	srv := harness.StartGoServer(t)
	tr := harness.StartTracer(t, harness.Mode(), []int{srv.PID()})

	harness.Get(t, srv.URL("/read-file"), map[string]string{"X-Test-Id": "read-file"})
	harness.Get(t, srv.URL("/reuse-fd"), map[string]string{"X-Test-Id": "reuse-fd"})
	line := srv.WaitLine(t, false, func(l string) bool { return strings.HasPrefix(l, "reuse ") }, waitForEvents)
	var connFD, fileFD int
	if _, err := fmt.Sscanf(line, "reuse conn_fd=%d file_fd=%d", &connFD, &fileFD); err != nil {
		t.Fatalf("server said %q: %v", line, err)
	}
	if connFD != fileFD {
		t.Fatalf("the file got fd %d, not the closed connection's fd %d: the reuse check would prove nothing", fileFD, connFD)
	}
	// A last request, so its record shows the earlier ones had time to arrive.
	harness.Get(t, srv.URL("/last"), map[string]string{"X-Test-Id": "last"})

	recs := tr.WaitRecords(t, 3, waitForEvents)
	tr.StopAndSummary(t)
	var paths []string
	for _, r := range recs {
		paths = append(paths, r.Path)
		if r.Path == "/from-regular-file" {
			t.Errorf("a regular file read was logged as a request: %+v", r)
		}
	}
	// Per-CPU buffers may deliver events out of order: compare as sets.
	sort.Strings(paths)
	if strings.Join(paths, " ") != "/last /read-file /reuse-fd" {
		t.Errorf("logged %q, want the three requests once each", paths)
	}
}
