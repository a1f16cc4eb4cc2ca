// End-to-end tests: httptrace traces real servers and real clients, in the
// attach mode named by $HTTPTRACE_ATTACH (tracepoint on the development
// machines, both modes in the kernel matrix), and every exchange a client
// completed must be logged exactly once, right. They run as root.
//
// Environment: HTTPTRACE_BIN (the binary, default bin/httptrace),
// HTTPTRACE_ATTACH (auto, kprobe or tracepoint; default tracepoint),
// HTTPTRACE_E2E_REQUIRE_ALL=1 (a missing nginx, python3 or node fails the
// test instead of skipping it), HTTPTRACE_SYSCALLSERVER (a static
// syscallserver binary; default this binary in that role) and
// HTTPTRACE_E2E_GUEST (set in the kernel matrix's emulated guests).
// Servers are found on PATH and listen on loopback only.
package e2e

import (
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

// waitForLogs bounds how long a test waits for its exchanges to be logged
// (it stops waiting once they all are). Guests of the kernel matrix
// (HTTPTRACE_E2E_GUEST set) run under software emulation and get longer.
var waitForLogs = 15 * time.Second * harness.Slowdown()

// trace starts httptrace on the PIDs in the mode under test and checks it
// reports that mode.
func trace(t *testing.T, pids ...int) *harness.Tracer {
	t.Helper()
	harness.RequireRoot(t)
	mode := harness.Mode()
	tr := harness.StartTracer(t, mode, pids)
	if tr.Mode == "" || (mode != "auto" && tr.Mode != mode) {
		t.Fatalf("asked for %s mode, httptrace reports %q", mode, tr.Mode)
	}
	return tr
}

// finish waits until every request is logged (bounded), stops httptrace,
// checks the records and the summary, and prints the result line unless
// suite is "" (the caller prints its own). It returns, by id, which
// requests were logged right.
func finish(t *testing.T, tr *harness.Tracer, suite string, sent []harness.Sent) map[string]bool {
	t.Helper()
	start := time.Now()
	tr.WaitFor(t, waitForLogs, harness.AllLogged(sent))
	t.Logf("waited %s for the exchanges to be logged", time.Since(start).Round(time.Millisecond))
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	good := harness.Check(t, recs, sent)
	harness.CheckSummary(t, sum, recs)
	if suite != "" {
		harness.Result(suite, tr.Mode, good, sent)
	}
	return good
}

// noneFrom fails the test for every record of the given (untraced) pids.
func noneFrom(t *testing.T, tr *harness.Tracer, pids ...int) {
	t.Helper()
	for _, r := range tr.Records(t) {
		for _, pid := range pids {
			if r.PID == pid {
				t.Errorf("logged an exchange of untraced process %d: %s", pid, r.Line)
			}
		}
	}
}

// expectStatus fails the test when a server did not answer as it should:
// the test's own premise, before anything is said about httptrace.
func expectStatus(t *testing.T, s harness.Sent, want int) {
	t.Helper()
	if s.Status != want {
		t.Fatalf("%s %s: the server answered %d, want %d", s.Method, s.Path, s.Status, want)
	}
}
