// Package hostile proves that hostile and broken traffic on a traced server
// changes nothing: one httptrace traces the Go test server (and nginx where
// it is installed) through every case, and must not crash, must keep its
// peak RSS under a bound, must flag what it cannot log whole rather than log
// it wrong, and must log the next well-formed exchange normally. It runs as
// root, on loopback only.
//
// Environment: HTTPTRACE_BIN (the binary, default bin/httptrace),
// HTTPTRACE_ATTACH (default tracepoint), HTTPTRACE_E2E_REQUIRE_ALL=1 (a
// missing nginx fails the test instead of leaving its targets out).
package hostile

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// maxPeakRSSKiB bounds httptrace's peak resident set (VmHWM) over the run:
// the ring buffer's pages it touched (16 MiB at most) and its heap. Runs of
// the same binary range over 62-72 MiB on a 2-core machine, so the bound
// sits above that, well below what unbounded growth would reach.
const maxPeakRSSKiB = 96 << 10

// waitForLogs bounds how long a case waits for its exchanges to be logged
// (it stops waiting once they are).
const waitForLogs = 15 * time.Second

// target is one traced server and the paths it answers.
type target struct {
	name string
	addr string
	pid  int
	// okPath is a path the server answers 200 to, for an id.
	okPath func(id string) string
	// statusPath is a path answered with the status, for an id.
	statusPath func(status int, id string) string
	// statuses are the statuses statusPath can produce.
	statuses []int
	// bodyPath is a path that reads a request body.
	bodyPath func(id string) string
}

// goTarget is the Go test server.
func goTarget(s *harness.Server) target {
	return target{
		name: "go", addr: s.Addr, pid: s.PID(),
		okPath:     func(id string) string { return "/ok/" + id },
		statusPath: func(st int, id string) string { return fmt.Sprintf("/status/%d/%s", st, id) },
		statuses:   []int{200, 201, 204, 404, 500},
		bodyPath:   func(id string) string { return "/body/" + id },
	}
}

// nginxTarget is nginx with the harness's configuration.
func nginxTarget(n *harness.Nginx) target {
	return target{
		name: "nginx", addr: n.Addr, pid: n.PID(),
		okPath:     func(id string) string { return "/status/200/" + id },
		statusPath: func(st int, id string) string { return fmt.Sprintf("/status/%d/%s", st, id) },
		// nginx closes a connection after a 500, which would end the
		// pipelined case early.
		statuses: []int{200, 201, 204, 404},
		bodyPath: func(id string) string { return "/post/" + id },
	}
}

// haveNginx tells whether nginx is installed; when it is not and every
// server is required, the test fails.
func haveNginx(t *testing.T) bool {
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return true
		}
	}
	if os.Getenv(harness.RequireAllEnv) == "1" {
		t.Fatalf("nginx is not installed and %s=1", harness.RequireAllEnv)
	}
	t.Log("nginx is not installed: only the Go server is a target")
	return false
}

// TestHostile runs every hostile case against one httptrace, then stops it
// and checks it survived, stayed small and lost nothing.
func TestHostile(t *testing.T) {
	harness.RequireRoot(t)
	raiseFileLimit(t, 8192)
	goSrv := harness.StartGoServer(t)
	targets := []target{goTarget(goSrv)}
	if haveNginx(t) {
		targets = append(targets, nginxTarget(harness.StartNginx(t)))
	}
	var pids []int
	for _, tg := range targets {
		pids = append(pids, tg.pid)
	}
	mode := harness.Mode()
	tr := harness.StartTracer(t, mode, pids)
	if tr.Mode == "" || (mode != "auto" && tr.Mode != mode) {
		t.Fatalf("asked for %s mode, httptrace reports %q", mode, tr.Mode)
	}
	h := &hostile{tr: tr, targets: targets}
	cases := []struct {
		name string
		run  func(*testing.T, *hostile)
	}{
		{"random-bytes", caseRandomBytes},
		{"header-line-64KiB", caseHugeHeaderLine},
		{"slowloris", caseSlowloris},
		{"bad-chunk-sizes", caseBadChunks},
		{"concurrent-2000", caseConcurrent},
		{"pipelined-1000", casePipelined},
		{"reset-mid-response", caseResetMidResponse},
	}
	passed := 0
	for _, c := range cases {
		start := time.Now()
		ok := t.Run(c.name, func(t *testing.T) {
			c.run(t, h)
			h.alive(t)
			for _, tg := range targets {
				h.followUp(t, tg)
			}
		})
		t.Logf("%s took %s", c.name, time.Since(start).Round(time.Millisecond))
		if ok {
			passed++
		}
	}

	// After every case: still running, small, and it stops cleanly.
	h.alive(t)
	peak := peakRSSKiB(t, tr.PID())
	if peak > maxPeakRSSKiB {
		t.Errorf("httptrace peak RSS (VmHWM) %d KiB, bound %d KiB", peak, maxPeakRSSKiB)
	}
	sum := tr.StopAndSummary(t)
	if sum.EventsLost != 0 || sum.DecodeErrors != 0 {
		t.Errorf("summary: events_lost=%d decode_errors=%d, want 0: %s", sum.EventsLost, sum.DecodeErrors, sum.Line)
	}
	for _, l := range tr.Stderr() {
		if strings.Contains(l, "panic") || strings.Contains(l, "goroutine ") {
			t.Errorf("httptrace stderr: %s", l)
		}
	}
	t.Logf("summary: %s", sum.Line)
	fmt.Printf("e2e-result: suite=hostile mode=%s exchanges=%d/%d cases=%d/%d peak_rss_kib=%d\n",
		tr.Mode, len(h.good), h.sent, passed, len(cases), peak)
}

// raiseFileLimit lifts this process's open-file limit to at least n (the
// concurrent case holds thousands of connections).
func raiseFileLimit(t *testing.T, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	if lim.Cur >= n {
		return
	}
	lim.Cur = n
	if lim.Max < n {
		lim.Max = n
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatalf("raising RLIMIT_NOFILE to %d: %v", n, err)
	}
}
