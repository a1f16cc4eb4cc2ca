package filter

import (
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/record"
)

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pattern, s string
		want       bool
	}{
		{"/api/*", "/api/v1/users", true},
		{"/api/*", "/api/", true},
		{"/api/*", "/api", false},
		{"/api/*", "/apix/1", false},
		{"*/health", "/v2/health", true},
		{"/a?c", "/abc", true},
		{"/a?c", "/ac", false},
		{"/exact", "/exact", true},
		{"/exact", "/exact/", false},
		{"*", "", true},
		{"/*/x/*", "/a/b/x/c", true},
		{"/*/x/*", "/a/b/y/c", false},
		{"/**", "/", true},
		{"/x/*z", "/x/*yz", true}, // a * in the path is matched like any character
		{"/x/?", "/x/*", true},
	} {
		if got := Glob(c.pattern, c.s); got != c.want {
			t.Errorf("Glob(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	if s, err := ParseStatuses("5xx, 404,incomplete"); err != nil || len(s) != 3 || s[0] != (Status{500, 599}) ||
		s[1] != (Status{404, 404}) || s[2] != NoResponse {
		t.Errorf("ParseStatuses: %v %v", s, err)
	}
	for _, bad := range []string{"6xx", "99", "600", "5x", "abc", "", "4044", "xx5", "0xx"} {
		if _, err := ParseStatuses(bad); err == nil {
			t.Errorf("ParseStatuses(%q) took it", bad)
		}
	}
	for _, bad := range []string{"fast", "0s", "-1s", "100"} {
		if _, err := ParseLatency(bad); err == nil {
			t.Errorf("ParseLatency(%q) took it", bad)
		}
	}
	if d, err := ParseLatency("100ms"); err != nil || d != 100*time.Millisecond {
		t.Errorf("ParseLatency(100ms) = %v, %v", d, err)
	}
	for _, bad := range []string{"", "api/*"} {
		if _, err := ParsePath(bad); err == nil {
			t.Errorf("ParsePath(%q) took it", bad)
		}
	}
	if m, err := ParseMethods("get,POST"); err != nil || len(m) != 2 || m[0] != "GET" || m[1] != "POST" {
		t.Errorf("ParseMethods: %v %v", m, err)
	}
	for _, bad := range []string{"", "GE T", "G1", "a,,b"} {
		if _, err := ParseMethods(bad); err == nil {
			t.Errorf("ParseMethods(%q) took it", bad)
		}
	}
	if _, err := ParseSide("both"); err == nil {
		t.Error("ParseSide(both) took it")
	}
	for _, bad := range []string{"", "a b", "http://x", "x,", "::1", "fe80::1:80"} {
		if _, err := ParseHosts(bad); err == nil {
			t.Errorf("ParseHosts(%q) took it", bad)
		}
	}
}

// TestMatch: each condition alone, then together (ANDed), over exchanges
// of every kind, including incomplete and unmatched ones.
func TestMatch(t *testing.T) {
	ex := func(method, path string, status int, latency time.Duration, side record.Side, host string) *record.Exchange {
		e := &record.Exchange{Method: method, Path: path, Status: status, LatencyNs: uint64(latency), Side: side}
		if host != "" {
			e.Headers = []record.Header{{Name: "Accept", Value: "*/*"}, {Name: "host", Value: host}}
		}
		return e
	}
	ok := ex("GET", "/api/users?id=1", 200, 5*time.Millisecond, record.Server, "example.com:8080")
	slow := ex("POST", "/api/upload", 201, 300*time.Millisecond, record.Server, "example.com.") // a fully qualified name
	fail := ex("GET", "/health", 503, time.Millisecond, record.Client, "backend")
	missing := ex("GET", "/missing", 404, time.Millisecond, record.Server, "[::1]:80")
	incomplete := ex("GET", "/hang", 0, 0, record.Server, "example.com")
	incomplete.Incomplete = true
	unmatched := ex("", "", 200, 0, record.Server, "")
	unmatched.Unmatched = true
	// A response cut short (the connection closed in its body): incomplete,
	// with the status it began with and a latency.
	cut := ex("GET", "/cut", 500, 150*time.Millisecond, record.Server, "")
	cut.Incomplete = true
	all := []*record.Exchange{ok, slow, fail, missing, incomplete, unmatched, cut}

	statuses := func(s string) []Status { v, _ := ParseStatuses(s); return v }
	for _, c := range []struct {
		name string
		f    Filter
		want []*record.Exchange
	}{
		{"none", Filter{}, all},
		{"5xx leaves out a cut 500", Filter{Statuses: statuses("5xx")}, []*record.Exchange{fail}},
		{"5xx,404", Filter{Statuses: statuses("5xx,404")}, []*record.Exchange{fail, missing}},
		{"2xx leaves out unmatched", Filter{Statuses: statuses("2xx")}, []*record.Exchange{ok, slow}},
		{"incomplete", Filter{Statuses: statuses("incomplete")}, []*record.Exchange{incomplete, unmatched, cut}},
		{"0,5xx", Filter{Statuses: statuses("0,5xx")}, []*record.Exchange{fail, incomplete, unmatched, cut}},
		{"min latency: a cut response has one", Filter{MinLatency: 100 * time.Millisecond}, []*record.Exchange{slow, cut}},
		{"path glob, query left out", Filter{Paths: []string{"/api/*"}}, []*record.Exchange{ok, slow}},
		{"paths and statuses ANDed", Filter{Paths: []string{"/cut", "/health"}, Statuses: statuses("incomplete")}, []*record.Exchange{cut}},
		{"paths", Filter{Paths: []string{"/health", "/missing"}}, []*record.Exchange{fail, missing}},
		{"method", Filter{Methods: []string{"POST"}}, []*record.Exchange{slow}},
		{"no request, no method", Filter{Methods: []string{"GET"}, Statuses: statuses("incomplete")}, []*record.Exchange{incomplete, cut}},
		{"side", Filter{Side: record.Client}, []*record.Exchange{fail}},
		{"side server", Filter{Side: record.Server}, []*record.Exchange{ok, slow, missing, incomplete, unmatched, cut}},
		{"host any port", Filter{Hosts: []string{"EXAMPLE.com"}}, []*record.Exchange{ok, slow, incomplete}},
		{"host with port", Filter{Hosts: []string{"example.com:8080"}}, []*record.Exchange{ok}},
		{"ipv6 host", Filter{Hosts: []string{"[::1]"}}, []*record.Exchange{missing}},
		{"ANDed", Filter{Methods: []string{"GET"}, Paths: []string{"/api/*"}, Statuses: statuses("2xx")}, []*record.Exchange{ok}},
		{"ANDed to nothing", Filter{Side: record.Client, Statuses: statuses("2xx")}, nil},
	} {
		var got []*record.Exchange
		for _, e := range all {
			if c.f.Match(e) {
				got = append(got, e)
			}
		}
		if len(got) != len(c.want) {
			t.Errorf("%s (%s): %d pass, want %d", c.name, c.f.String(), len(got), len(c.want))
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: pass %d is %s %s, want %s %s", c.name, i, got[i].Method, got[i].Path, c.want[i].Method, c.want[i].Path)
			}
		}
		if c.f.Empty() != (c.name == "none") {
			t.Errorf("%s: Empty() = %v", c.name, c.f.Empty())
		}
	}
}
