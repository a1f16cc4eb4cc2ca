// A traced HAProxy that splices response bodies.
package e2e

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/httptrace/httptrace/test/harness"
)

// spliceBody is the size of the large response: far over haproxy's
// buffer (16 KiB), so most of it goes by splice(2).
const spliceBody = 300 * 1000

// TestHAProxySplice traces haproxy (option splice-response) forwarding to
// an untraced Go server. On each of two kept-alive client connections a
// ~300 KB response, most of whose body haproxy moves from the upstream
// socket to the client's with splice(2), is followed by three small ones.
// The spliced bytes pass no hooked syscall: httptrace must count them as
// moved unseen at their place in both streams, so that every exchange,
// inbound (server side) and upstream (client side), is logged once with
// status 200 and exact byte counts, and the small exchanges after the
// large one still pair.
func TestHAProxySplice(t *testing.T) {
	up := harness.StartGoServer(t)
	hap := harness.StartHAProxy(t, up.Addr)
	bigPath := "/bytes/" + strconv.Itoa(spliceBody) + "/"
	smallPath := "/ok/"

	// What the Go server writes for each kind of request, measured on a
	// direct connection nothing traces: the upstream records must show
	// these sizes (the ids, and so the bodies' lengths, are all alike).
	upstreamBytes := map[string]int64{}
	ref := harness.DialRaw(t, up.Addr)
	for _, p := range []string{bigPath, smallPath} {
		id := harness.NewID("haproxy")
		s := ref.Exchange(t, "GET", p+id, id)
		expectStatus(t, s, 200)
		upstreamBytes[p] = s.ResponseBytes
	}
	ref.Close()

	tr := trace(t, hap.PID())
	var sent []harness.Sent
	shape := map[string]string{} // id -> its path before the id
	for range 2 {
		c := harness.DialRaw(t, hap.Addr)
		for _, p := range []string{bigPath, smallPath, smallPath, smallPath} {
			id := harness.NewID("haproxy")
			req := harness.RequestText("GET", p+id, id)
			c.Send(t, req)
			got := c.Read(t, "GET")
			s := c.Sent("GET", p+id, id, int64(len(req)), got)
			expectStatus(t, s, 200)
			if s.ServerPID != up.PID() {
				t.Fatalf("GET %s through haproxy was served by pid %d, not the Go server (%d)", s.Path, s.ServerPID, up.PID())
			}
			if p == bigPath && len(got.Body) != spliceBody {
				t.Fatalf("GET %s through haproxy: %d body bytes, want %d", s.Path, len(got.Body), spliceBody)
			}
			s.ServerPID = hap.PID() // haproxy answers the client
			shape[id] = p
			sent = append(sent, s)
		}
		c.Close()
	}

	// Both legs of every request, or the timeout.
	tr.WaitFor(t, waitForLogs, func(recs []harness.Record) bool {
		for _, s := range sent {
			in, out := false, false
			for _, r := range recs {
				if harness.Matches(r, s.ID) {
					in = in || r.Side == "server"
					out = out || r.Side == "client"
				}
			}
			if !in || !out {
				return false
			}
		}
		return true
	})
	sum := tr.StopAndSummary(t)
	t.Logf("summary: %s", sum.Line)
	recs := tr.Records(t)
	inbound, upstream := harness.BySide(recs)

	// Every check below reports to st: a failure fails the test, unless the
	// kernel missed probe hits and httptrace's summary counts them (kprobe
	// mode; the same rule as the bpftrace comparison's): then the records
	// those hits would have made may be wrong or missing, and each failure
	// is logged instead.
	st := &softT{TB: t}
	// (a) What the client saw, exactly, on haproxy's inbound side.
	good := harness.Check(st, inbound, sent)

	// (b) haproxy's upstream calls: one per request, whole and paired.
	used := make([]bool, len(upstream))
	for _, s := range sent {
		var got []harness.Record
		for i, r := range upstream {
			if harness.Matches(r, s.ID) {
				got = append(got, r)
				used[i] = true
			}
		}
		if len(got) != 1 {
			st.Errorf("upstream call for %s logged %d times, want once", s.Path, len(got))
			for _, r := range got {
				st.Logf("  %s", r.Line)
			}
			continue
		}
		r := got[0]
		var bad []string
		if r.Side != "client" {
			bad = append(bad, fmt.Sprintf("side %q, want client", r.Side))
		}
		if r.PID != hap.PID() {
			bad = append(bad, fmt.Sprintf("pid %d, want haproxy's %d", r.PID, hap.PID()))
		}
		if r.Method != "GET" || r.Path != s.Path {
			bad = append(bad, fmt.Sprintf("%s %s, want GET %s", r.Method, r.Path, s.Path))
		}
		if r.Server != up.Addr {
			bad = append(bad, fmt.Sprintf("server %q, want the upstream %q", r.Server, up.Addr))
		}
		if r.Status != 200 {
			bad = append(bad, fmt.Sprintf("status %d, want 200", r.Status))
		}
		if want := upstreamBytes[shape[s.ID]]; r.ResponseBytes != want {
			bad = append(bad, fmt.Sprintf("response_bytes %d, the Go server writes %d", r.ResponseBytes, want))
		}
		if r.RequestBytes <= 0 {
			bad = append(bad, fmt.Sprintf("request_bytes %d, want > 0", r.RequestBytes))
		}
		if r.Incomplete || r.Unmatched || r.Gap {
			bad = append(bad, fmt.Sprintf("incomplete=%v unmatched=%v gap=%v, want all false", r.Incomplete, r.Unmatched, r.Gap))
		}
		if len(bad) > 0 {
			st.Errorf("upstream call for %s logged wrong: %v\n%s", s.Path, bad, r.Line)
			continue
		}
		good["up:"+s.ID] = true
	}
	for i, r := range upstream {
		if !used[i] {
			st.Errorf("logged an upstream exchange no request caused: %s", r.Line)
		}
	}

	// (c) Nothing lost, no gap, and the spliced bytes counted: at most the
	// large bodies, once leaving the upstream socket and once entering the
	// client's.
	harness.CheckSummary(st, sum, recs)
	if sum.Gaps != 0 {
		st.Errorf("summary: gaps=%d, want 0: %s", sum.Gaps, sum.Line)
	}
	if sum.BytesUnseen <= 0 || sum.BytesUnseen > 2*2*spliceBody {
		st.Errorf("summary: bytes_unseen=%d, want some of the spliced bodies and at most %d: %s",
			sum.BytesUnseen, 2*2*spliceBody, sum.Line)
	}
	if missed := sum.KprobeMissed + sum.RunsSkipped; missed > 0 && len(st.errs) > 0 {
		for _, e := range st.errs {
			t.Logf("with %d probe hits the kernel missed, counted in the summary: %s", missed, e)
		}
	} else {
		for _, e := range st.errs {
			t.Error(e)
		}
	}
	fmt.Printf("e2e-result: suite=haproxy mode=%s exchanges=%d/%d\n", tr.Mode, len(good), 2*len(sent))
}

// softT collects the failures of checks made through it, to be decided on
// after all are in.
type softT struct {
	testing.TB
	errs []string
}

func (s *softT) Errorf(format string, args ...any) {
	s.errs = append(s.errs, fmt.Sprintf(format, args...))
}
func (s *softT) Helper() {}
