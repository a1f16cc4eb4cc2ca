package filter

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/httptrace/httptrace/pkg/record"
)

// ParseStatuses reads a comma-separated list of codes (404), classes (5xx)
// and 0 or "incomplete" (no response).
func ParseStatuses(s string) ([]Status, error) {
	var out []Status
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		st, err := parseStatus(part)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func parseStatus(s string) (Status, error) {
	bad := fmt.Errorf("%q is not a status (want a code 100-599, a class 1xx-5xx, 0 or incomplete)", s)
	switch {
	case s == "0" || strings.EqualFold(s, "incomplete"):
		return NoResponse, nil
	case len(s) == 3 && s[0] >= '1' && s[0] <= '5' && strings.EqualFold(s[1:], "xx"):
		lo := int(s[0]-'0') * 100
		return Status{lo, lo + 99}, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || len(s) != 3 || n < 100 || n > 599 {
		return Status{}, bad
	}
	return Status{n, n}, nil
}

// ParseLatency reads a duration such as 100ms or 2s; it must be positive.
func ParseLatency(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a latency (want a positive duration, e.g. 100ms or 2s)", s)
	}
	return d, nil
}

// ParsePath checks a path glob: it starts with / or *.
func ParsePath(s string) (string, error) {
	if s == "" || (s[0] != '/' && s[0] != '*') {
		return "", fmt.Errorf("%q is not a path glob (want one starting with / or *, e.g. '/api/*')", s)
	}
	return s, nil
}

// ParseMethods reads a comma-separated list of methods (tokens of letters
// and - or _), kept in upper case.
func ParseMethods(s string) ([]string, error) {
	var out []string
	for _, m := range strings.Split(s, ",") {
		m = strings.TrimSpace(m)
		ok := m != "" && len(m) <= 24
		for _, c := range m {
			ok = ok && (c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_')
		}
		if !ok {
			return nil, fmt.Errorf("%q is not a method (want e.g. GET or POST)", m)
		}
		out = append(out, strings.ToUpper(m))
	}
	return out, nil
}

// ParseSide reads server or client.
func ParseSide(s string) (record.Side, error) {
	switch record.Side(s) {
	case record.Server, record.Client:
		return record.Side(s), nil
	}
	return "", fmt.Errorf("%q is not a side (want server or client)", s)
}

// ParseHosts reads a comma-separated list of host names, each with an
// optional :port.
func ParseHosts(s string) ([]string, error) {
	var out []string
	for _, h := range strings.Split(s, ",") {
		h = strings.TrimSpace(h)
		ok := h != ""
		for _, c := range h {
			ok = ok && c > ' ' && c != '/' && c != 0x7f && c < 0x80
		}
		if !ok {
			return nil, fmt.Errorf("%q is not a host (want e.g. example.com or example.com:8080)", h)
		}
		if strings.Count(h, ":") > 1 && !strings.HasPrefix(h, "[") {
			return nil, fmt.Errorf("%q: write an IPv6 address in brackets, as a Host header does (e.g. [::1])", h)
		}
		out = append(out, strings.TrimSuffix(h, "."))
	}
	return out, nil
}

// String describes f for logs: the conditions set, in flag form.
func (f *Filter) String() string {
	var parts []string
	if len(f.Statuses) > 0 {
		var ss []string
		for _, s := range f.Statuses {
			switch {
			case s == NoResponse:
				ss = append(ss, "incomplete")
			case s.Hi == s.Lo+99 && s.Lo%100 == 0:
				ss = append(ss, fmt.Sprintf("%dxx", s.Lo/100))
			default:
				ss = append(ss, strconv.Itoa(s.Lo))
			}
		}
		parts = append(parts, "status="+strings.Join(ss, ","))
	}
	if f.MinLatency > 0 {
		parts = append(parts, "min_latency="+f.MinLatency.String())
	}
	if len(f.Paths) > 0 {
		parts = append(parts, "path="+strings.Join(f.Paths, ","))
	}
	if len(f.Methods) > 0 {
		parts = append(parts, "method="+strings.Join(f.Methods, ","))
	}
	if f.Side != "" {
		parts = append(parts, "side="+string(f.Side))
	}
	if len(f.Hosts) > 0 {
		parts = append(parts, "host="+strings.Join(f.Hosts, ","))
	}
	return strings.Join(parts, " ")
}

// Keys are the filter's settings, as the YAML filter section names them
// (the flags are the same with - for _).
var Keys = []string{"status", "min_latency", "path", "method", "side", "host"}

// Add parses value for one setting and adds it to f: lists grow,
// min_latency and side are replaced.
func (f *Filter) Add(key, value string) error {
	var err error
	switch key {
	case "status":
		var v []Status
		v, err = ParseStatuses(value)
		f.Statuses = append(f.Statuses, v...)
	case "min_latency":
		f.MinLatency, err = ParseLatency(value)
	case "path":
		var v string
		v, err = ParsePath(value)
		f.Paths = append(f.Paths, v)
	case "method":
		var v []string
		v, err = ParseMethods(value)
		f.Methods = append(f.Methods, v...)
	case "side":
		f.Side, err = ParseSide(value)
	case "host":
		var v []string
		v, err = ParseHosts(value)
		f.Hosts = append(f.Hosts, v...)
	default:
		return fmt.Errorf("unknown filter %q", key)
	}
	return err
}

// Merge adds g's conditions to f: lists grow, and g's min_latency and side,
// when set, win.
func (f *Filter) Merge(g Filter) {
	f.Statuses = append(f.Statuses, g.Statuses...)
	f.Paths = append(f.Paths, g.Paths...)
	f.Methods = append(f.Methods, g.Methods...)
	f.Hosts = append(f.Hosts, g.Hosts...)
	if g.MinLatency != 0 {
		f.MinLatency = g.MinLatency
	}
	if g.Side != "" {
		f.Side = g.Side
	}
}
