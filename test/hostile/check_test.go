// Checks shared by the cases: exchanges that must be logged right, records
// of hostile connections that must be flagged or right, and the tracer's
// health (alive, peak RSS).
package hostile

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// hostile is the state the cases share: the tracer, the traced servers and
// the well-formed exchanges checked so far.
type hostile struct {
	tr      *harness.Tracer
	targets []target

	mu   sync.Mutex
	sent int             // well-formed exchanges that had to be logged
	good map[string]bool // ids of those logged right
}

// expect waits until every exchange is logged and checks each is logged
// exactly once and right (Mismatches); other records are not judged here.
func (h *hostile) expect(t *testing.T, sent []harness.Sent) {
	t.Helper()
	start := time.Now()
	recs := h.tr.WaitFor(t, waitForLogs, harness.AllLogged(sent))
	t.Logf("waited %s for %d exchanges", time.Since(start).Round(time.Millisecond), len(sent))
	byID := map[string][]harness.Record{}
	for _, r := range recs {
		if id := r.Header(harness.IDHeader); id != "" {
			byID[id] = append(byID[id], r)
		}
	}
	bad := 0
	for _, s := range sent {
		got := byID[s.ID]
		if len(got) == 0 {
			for _, r := range recs { // an id cut from the headers may still be in the path
				if harness.Matches(r, s.ID) {
					got = append(got, r)
				}
			}
		}
		msg := ""
		if len(got) != 1 {
			msg = fmt.Sprintf("logged %d times, want once%s", len(got), lines(got))
		} else if errs := harness.Mismatches(got[0], s); len(errs) > 0 {
			msg = fmt.Sprintf("logged wrong: %s\n  %s", strings.Join(errs, "; "), got[0].Line)
		}
		h.mu.Lock()
		h.sent++
		if msg == "" {
			if h.good == nil {
				h.good = map[string]bool{}
			}
			h.good[s.ID] = true
		}
		h.mu.Unlock()
		if msg != "" {
			if bad++; bad <= 10 {
				t.Errorf("%s %s (id %s, status %d): %s", s.Method, s.Path, s.ID, s.Status, msg)
			}
		}
	}
	if bad > 10 {
		t.Errorf("... %d of %d exchanges in all were not logged right", bad, len(sent))
	}
}

// followUp sends one well-formed exchange on a fresh connection to the
// target and checks it is logged normally.
func (h *hostile) followUp(t *testing.T, tg target) {
	t.Helper()
	c := harness.DialRaw(t, tg.addr)
	defer c.Close()
	id := harness.NewID("after")
	s := c.Exchange(t, "GET", tg.okPath(id), id)
	if s.Status != 200 {
		t.Fatalf("%s: the follow-up GET %s got %d, want 200", tg.name, s.Path, s.Status)
	}
	h.expect(t, []harness.Sent{s})
}

// alive fails the test when httptrace has exited.
func (h *hostile) alive(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", h.tr.PID()))
	if err == nil && !bytes.Contains(b, []byte("\nState:\tZ")) {
		return
	}
	t.Fatalf("httptrace is no longer running\nstderr:\n%s", strings.Join(h.tr.Stderr(), "\n"))
}

// peakRSSKiB is VmHWM of a live process, in KiB.
func peakRSSKiB(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading the status of %d: %v", pid, err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return n
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// view is what a client knows of one hostile connection: what it sent and
// what came back. A record of the connection must agree with it.
type view struct {
	client, server string    // the connection's addresses
	since          time.Time // just before it was opened (ports are reused)
	requests       []line    // request lines sent, whole or not
	statuses       []int     // statuses received, in order
	// complete are the exchanges that went whole both ways; only these
	// may be logged without a flag.
	complete []harness.Sent
}

// newView starts the view of a connection about to be opened.
func newView() view { return view{since: time.Now().Add(-clockSlack)} }

// clockSlack allows for the tracer's wall-clock times differing from the
// test's by a little.
const clockSlack = 20 * time.Millisecond

// of tells whether a record is of the viewed connection: its addresses,
// and a start after the connection opened (an earlier connection may have
// had the same client port).
func (v view) of(r harness.Record) bool {
	return r.Client == v.client && r.Server == v.server && !r.Start.Before(v.since)
}

// line is a request line: a method and a path.
type line struct{ method, path string }

// flagged tells whether a record says it is not whole.
func flagged(r harness.Record) bool { return r.Incomplete || r.Unmatched || r.Truncated || r.Gap }

// judge checks the records of a hostile connection against what its client
// knows: no status it did not receive, no request line it did not send, and
// no record without a flag unless the exchange went whole. It returns the
// connection's records.
func judge(t *testing.T, recs []harness.Record, v view) []harness.Record {
	t.Helper()
	var mine []harness.Record
	for _, r := range recs {
		if !v.of(r) {
			continue
		}
		mine = append(mine, r)
		var errs []string
		if r.Status != 0 && !containsInt(v.statuses, r.Status) {
			errs = append(errs, fmt.Sprintf("status %d, the client received %v", r.Status, v.statuses))
		}
		if r.Method != "" && !sentLine(v.requests, r) {
			errs = append(errs, fmt.Sprintf("request line %q %q, the client sent %v", r.Method, r.Path, v.requests))
		}
		if !flagged(r) && !wholeExchange(v.complete, r) {
			errs = append(errs, "logged as a whole exchange without a flag; whole exchanges were "+sentList(v.complete))
		}
		if len(errs) > 0 {
			t.Errorf("hostile connection %s -> %s: %s\n  %s", v.client, v.server, strings.Join(errs, "; "), r.Line)
		}
	}
	return mine
}

// sentLine tells whether a record's request line is one the client sent
// (or, when truncated, the start of one).
func sentLine(sent []line, r harness.Record) bool {
	for _, l := range sent {
		if l.method == r.Method && (l.path == r.Path || (r.Truncated && r.Path != "" && strings.HasPrefix(l.path, r.Path))) {
			return true
		}
	}
	return false
}

// wholeExchange tells whether a record is one of the whole exchanges.
func wholeExchange(whole []harness.Sent, r harness.Record) bool {
	for _, s := range whole {
		if s.Method == r.Method && s.Path == r.Path && s.Status == r.Status {
			return true
		}
	}
	return false
}

func containsInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// sentList names exchanges for a failure message.
func sentList(sent []harness.Sent) string {
	if len(sent) == 0 {
		return "none"
	}
	var parts []string
	for _, s := range sent {
		parts = append(parts, fmt.Sprintf("%s %s -> %d", s.Method, s.Path, s.Status))
	}
	return strings.Join(parts, ", ")
}

// lines lists records' JSON lines for a failure message.
func lines(recs []harness.Record) string {
	var b strings.Builder
	for _, r := range recs {
		b.WriteString("\n  " + r.Line)
	}
	return b.String()
}

// settle waits until the tracer has logged records for every address pair,
// or the time passes: hostile connections may rightly be logged late (on
// close) or never, so this only bounds the wait.
func (h *hostile) settle(t *testing.T, d time.Duration, views []view) []harness.Record {
	t.Helper()
	return h.tr.WaitFor(t, d, func(recs []harness.Record) bool {
		for _, v := range views {
			seen := false
			for _, r := range recs {
				if v.of(r) {
					seen = true
					break
				}
			}
			if !seen {
				return false
			}
		}
		return true
	})
}

// dial opens a plain TCP connection with a deadline.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dialing %s: %v", addr, err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// drain reads what the server sends until it closes or hold passes.
func drain(c net.Conn, hold time.Duration) []byte {
	c.SetReadDeadline(time.Now().Add(hold))
	b, _ := io.ReadAll(c)
	return b
}

// statusesIn parses the responses in bytes a client received (to requests
// of the method) and returns their statuses and how many went whole.
func statusesIn(b []byte, method string) (statuses []int, whole int) {
	br := bufio.NewReader(bytes.NewReader(b))
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return statuses, whole
		}
		statuses = append(statuses, resp.StatusCode)
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return statuses, whole
		}
		resp.Body.Close()
		whole++
	}
}
