// What each tool reported: the bpftrace program's lines and httptrace's
// records, reduced to what the two must agree on.

package bpftracediff

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/test/harness"
)

// exchange is what both tools must agree on for each request.
type exchange struct {
	PID    int
	Method string
	Path   string
}

func (e exchange) String() string { return fmt.Sprintf("%d %s %s", e.PID, e.Method, e.Path) }

// The bpftrace program's lines: REQ pid=P fd=F bytes=B METHOD PATH ... and
// RESP pid=P fd=F bytes=B HTTP/1.x STATUS ...
var (
	reqLine  = regexp.MustCompile(`^REQ pid=(\d+) fd=(-?\d+) bytes=(\d+) (\S+) (\S+)`)
	respLine = regexp.MustCompile(`^RESP pid=(\d+) fd=(-?\d+) bytes=(\d+) HTTP/1\.[01] (\d{3})`)
)

// seen is what one tool reported: requests, and a count of responses per
// (pid, status).
type seen struct {
	requests  map[exchange]bool
	responses map[string]int
}

func respKey(pid, status int) string { return fmt.Sprintf("%d %d", pid, status) }

// fromBpftrace collects the requests whose path has the marker, and the
// responses, from the program's lines.
func fromBpftrace(t *testing.T, lines []string, marker string) seen {
	s := seen{requests: map[exchange]bool{}, responses: map[string]int{}}
	for _, l := range lines {
		if m := reqLine.FindStringSubmatch(l); m != nil {
			pid, _ := strconv.Atoi(m[1])
			if strings.Contains(m[5], marker) {
				s.requests[exchange{PID: pid, Method: m[4], Path: m[5]}] = true
			}
			continue
		}
		if m := respLine.FindStringSubmatch(l); m != nil {
			pid, _ := strconv.Atoi(m[1])
			status, _ := strconv.Atoi(m[4])
			s.responses[respKey(pid, status)]++
			continue
		}
		if strings.HasPrefix(l, "REQ ") || strings.HasPrefix(l, "RESP ") {
			t.Errorf("bpftrace line not understood: %q", l)
		}
	}
	return s
}

// record is the part of an httptrace JSON record compared.
type record struct {
	PID    int    `json:"pid"`
	Method string `json:"method"`
	Path   string `json:"path"`
	Status int    `json:"status"`
}

// fromHttptrace collects the exchanges httptrace logged whose path has
// the marker, and their statuses.
func fromHttptrace(t *testing.T, tr *harness.Tracer, marker string) (seen, map[exchange]int) {
	s := seen{requests: map[exchange]bool{}, responses: map[string]int{}}
	status := map[exchange]int{}
	for _, l := range tr.Stdout() {
		var r record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("stdout line is not a JSON record: %q: %v", l, err)
		}
		if !strings.Contains(r.Path, marker) {
			continue
		}
		e := exchange{PID: r.PID, Method: r.Method, Path: r.Path}
		s.requests[e] = true
		status[e] = r.Status
		if r.Status != 0 {
			s.responses[respKey(r.PID, r.Status)]++
		}
	}
	return s, status
}

// linesWith returns the lines that contain s.
func linesWith(lines []string, s string) []string {
	var out []string
	for _, l := range lines {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}

// subset says whether every key of a is in b.
func subset[K comparable](a, b map[K]bool) bool {
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// atMost says whether every count in a is at most b's for the same key.
func atMost(a, b map[string]int) bool {
	for k, n := range a {
		if n > b[k] {
			return false
		}
	}
	return true
}

// sorted lists a set's keys, one a line, in order.
func sorted[K comparable](m map[K]bool) string {
	var out []string
	for k := range m {
		out = append(out, fmt.Sprint(k))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}
