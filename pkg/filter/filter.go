// Package filter decides which finished exchanges are written out. It sits
// between the exchange stage and the log sinks: what it leaves out is still
// counted by every stage before it.
package filter

import (
	"strings"
	"time"

	"github.com/httptrace/httptrace/pkg/record"
)

// Filter holds the conditions an exchange must meet to be written. Each set
// condition must hold (they are ANDed); a list matches when any of its
// entries does. The zero Filter lets everything through.
type Filter struct {
	// Statuses are codes and classes. An incomplete exchange (no response
	// by the close or the timeout, or one cut short: it keeps the status it
	// began with) or an unmatched one (no request) passes only when they
	// name NoResponse (0 or "incomplete").
	Statuses []Status
	// MinLatency: the response's first byte came at least this long after
	// the request's last. An exchange with no response (status 0) or no
	// request has no latency and does not pass; a response cut short has one.
	MinLatency time.Duration
	// Paths are globs on the request path without its query: * matches
	// any run of characters, / included; ? matches one.
	Paths []string
	// Methods match the request method, case-insensitively.
	Methods []string
	// Side is the traced process's side (record.Server or record.Client).
	Side record.Side
	// Hosts match the Host header (or :authority), case-insensitively; a
	// host without a port matches any port.
	Hosts []string
}

// Status is a range of status codes; Lo == 0 stands for no response.
type Status struct{ Lo, Hi int }

// NoResponse is the status an exchange without a response has.
var NoResponse = Status{0, 0}

// Empty reports whether f lets everything through.
func (f *Filter) Empty() bool {
	return len(f.Statuses) == 0 && f.MinLatency == 0 && len(f.Paths) == 0 && len(f.Methods) == 0 &&
		f.Side == "" && len(f.Hosts) == 0
}

// Match reports whether e is to be written.
func (f *Filter) Match(e *record.Exchange) bool {
	if f.Side != "" && e.Side != f.Side {
		return false
	}
	if len(f.Statuses) > 0 && !f.statusMatch(e) {
		return false
	}
	if f.MinLatency > 0 && (e.Status == 0 || e.Unmatched || e.LatencyNs < uint64(f.MinLatency)) {
		return false
	}
	if len(f.Methods) > 0 && !anyOf(f.Methods, func(m string) bool { return strings.EqualFold(m, e.Method) }) {
		return false
	}
	if len(f.Paths) > 0 {
		if e.Unmatched {
			return false
		}
		path, _, _ := strings.Cut(e.Path, "?")
		if !anyOf(f.Paths, func(g string) bool { return Glob(g, path) }) {
			return false
		}
	}
	if len(f.Hosts) > 0 && !f.hostMatch(e) {
		return false
	}
	return true
}

func (f *Filter) statusMatch(e *record.Exchange) bool {
	none := e.Status == 0 || e.Incomplete || e.Unmatched
	for _, s := range f.Statuses {
		if s == NoResponse && none || s != NoResponse && !none && e.Status >= s.Lo && e.Status <= s.Hi {
			return true
		}
	}
	return false
}

func (f *Filter) hostMatch(e *record.Exchange) bool {
	var host string
	for _, h := range e.Headers {
		if strings.EqualFold(h.Name, "Host") || h.Name == ":authority" {
			host = h.Value
			break
		}
	}
	if host == "" {
		return false
	}
	host = strings.TrimSuffix(host, ".")
	bare := strings.TrimSuffix(stripPort(host), ".")
	return anyOf(f.Hosts, func(want string) bool {
		if strings.Contains(want, ":") && !strings.HasSuffix(want, "]") {
			return strings.EqualFold(want, host)
		}
		return strings.EqualFold(want, bare)
	})
}

// stripPort drops a :port from a Host value (an IPv6 literal keeps its brackets).
func stripPort(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		return h[:i]
	}
	return h
}

func anyOf(list []string, ok func(string) bool) bool {
	for _, s := range list {
		if ok(s) {
			return true
		}
	}
	return false
}

// Glob matches s against pattern, where * matches any run of characters
// (/ included) and ? any one character; everything else matches itself.
func Glob(pattern, s string) bool {
	// The classic two-pointer match: on a mismatch, go back to just after
	// the last star and let it take one more character.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*': // before the literal case: a * in s is a character like any
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case star >= 0:
			p, mark = star+1, mark+1
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
