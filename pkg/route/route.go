// Package route turns request paths into routes: low-cardinality
// templates (`/users/{id}`) that metrics and spans are labelled with.
// Configured templates are tried first, in order; a path that matches
// none has its ID-like segments (numbers, UUIDs, hex, long tokens)
// collapsed to {id}.
package route

import (
	"fmt"
	"strings"
)

// Pattern is one configured template: literal segments, `{name}`
// segments that match any one non-empty segment, and a final `*` that
// matches the rest of the path (one segment or more).
type Pattern struct {
	text string
	segs []string // "" for a {name} segment
	rest bool     // ends with /*
}

// String is the template as configured: the route of the paths it matches.
func (p Pattern) String() string { return p.text }

// Parse reads a template. It starts with "/"; `*` may only be the last
// segment; `{...}` and `*` stand for whole segments.
func Parse(s string) (Pattern, error) {
	if !strings.HasPrefix(s, "/") {
		return Pattern{}, fmt.Errorf("route %q: must start with /", s)
	}
	p := Pattern{text: s}
	if s == "/" {
		return p, nil
	}
	parts := strings.Split(s[1:], "/")
	for i, part := range parts {
		switch {
		case part == "*":
			if i != len(parts)-1 {
				return Pattern{}, fmt.Errorf("route %q: * only as the last segment", s)
			}
			p.rest = true
		case len(part) > 2 && part[0] == '{' && part[len(part)-1] == '}' && !strings.ContainsAny(part[1:len(part)-1], "{}*"):
			p.segs = append(p.segs, "")
		case strings.ContainsAny(part, "{}*"):
			return Pattern{}, fmt.Errorf("route %q: segment %q: {name} and * stand for whole segments", s, part)
		case part == "":
			return Pattern{}, fmt.Errorf("route %q: an empty segment", s)
		default:
			p.segs = append(p.segs, part)
		}
	}
	return p, nil
}

// Match says whether path (no query) fits the template.
func (p Pattern) Match(path string) bool {
	rest := strings.TrimPrefix(path, "/")
	for _, want := range p.segs {
		if rest == "" {
			return false
		}
		seg, next, _ := strings.Cut(rest, "/")
		if seg == "" || (want != "" && seg != want) {
			return false
		}
		rest = next
	}
	if p.rest {
		return rest != ""
	}
	return rest == ""
}

// Router finds the route of a path.
type Router struct {
	patterns []Pattern
}

// NewRouter parses the configured templates, tried in order.
func NewRouter(templates []string) (*Router, error) {
	r := &Router{}
	for _, t := range templates {
		p, err := Parse(t)
		if err != nil {
			return nil, err
		}
		r.patterns = append(r.patterns, p)
	}
	return r, nil
}

// Route is the route of a request target: the first template it
// matches, else the path with its ID-like segments collapsed. The query
// and fragment are dropped; a target that is not a path (`*`, an
// absolute URI's authority form) is its own route only when it is `*`.
func (r *Router) Route(target string) string {
	path := target
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if !strings.HasPrefix(path, "/") {
		// An absolute form (a proxy's request): its path.
		if i := strings.Index(path, "://"); i >= 0 {
			if j := strings.IndexByte(path[i+3:], '/'); j >= 0 {
				path = path[i+3+j:]
			} else {
				path = "/"
			}
		} else if path == "*" {
			return "*"
		} else {
			return "/"
		}
	}
	for _, p := range r.patterns {
		if p.Match(path) {
			return p.text
		}
	}
	return Collapse(path)
}

// Collapse replaces the ID-like segments of path with {id}, keeping the
// rest. It allocates only when a segment changes.
func Collapse(path string) string {
	var b strings.Builder
	start := 0
	changed := false
	for start < len(path) {
		end := strings.IndexByte(path[start:], '/')
		if end < 0 {
			end = len(path)
		} else {
			end += start
		}
		seg := path[start:end]
		if IDLike(seg) {
			if !changed {
				b.Grow(len(path))
				b.WriteString(path[:start])
				changed = true
			}
			b.WriteString("{id}")
		} else if changed {
			b.WriteString(seg)
		}
		if end < len(path) && changed {
			b.WriteByte('/')
		}
		start = end + 1
	}
	if !changed {
		return path
	}
	return b.String()
}

// IDLike says whether a path segment looks like an identifier rather than
// a name: all digits; a UUID; hexadecimal of 8 digits or more with at
// least one decimal digit; or 16 characters or more of letters and digits
// (with - _ . ~ =) that mix letters and digits, a token.
func IDLike(seg string) bool {
	if seg == "" {
		return false
	}
	digits, hex, letters, other := 0, 0, 0, 0
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'):
			hex++
		case (c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z'):
			letters++
		case c == '-' || c == '_' || c == '.' || c == '~' || c == '=' || c == '%':
			other++
		default:
			return false
		}
	}
	switch {
	case digits == len(seg):
		return true
	case isUUID(seg):
		return true
	case digits > 0 && digits+hex == len(seg) && len(seg) >= 8:
		return true
	case len(seg) >= 16 && digits > 0 && hex+letters > 0:
		return true
	}
	return false
}

// isUUID: 8-4-4-4-12 hexadecimal digits.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) {
			return false
		}
	}
	return true
}
