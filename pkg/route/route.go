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
// matches the rest of the path after its slash (`/static/*` matches
// `/static/` and `/static/a/b`, not `/static`).
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
	slash := true // the last segment matched was followed by a slash
	for _, want := range p.segs {
		if rest == "" {
			return false
		}
		seg, next, found := strings.Cut(rest, "/")
		if seg == "" || (want != "" && seg != want) {
			return false
		}
		rest, slash = next, found
	}
	if p.rest {
		return slash
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
// matches, else the path with its ID-like segments collapsed. The query,
// the fragment and `;` parameters (`;jsessionid=`) are dropped; an
// absolute URI (a proxy's request) is its path; `*` is its own route, and
// any other target that is not a path is "/".
func (r *Router) Route(target string) string {
	return string(r.AppendRoute(nil, target))
}

// AppendRoute appends the route of target to dst, allocating nothing
// when dst has room: the same route as Route.
func (r *Router) AppendRoute(dst []byte, target string) []byte {
	path, fixed := r.route(target)
	if fixed != "" {
		return append(dst, fixed...)
	}
	return appendCollapsed(dst, path)
}

// route is target's path, or its route when that is fixed (a template's,
// or "*" or "/").
func (r *Router) route(target string) (path, fixed string) {
	path = target
	if i := strings.IndexAny(path, "?#;"); i >= 0 {
		path = path[:i]
	}
	if !strings.HasPrefix(path, "/") {
		i := strings.Index(path, "://")
		switch {
		case i >= 0:
			if j := strings.IndexByte(path[i+3:], '/'); j >= 0 {
				path = path[i+3+j:]
			} else {
				return "", "/"
			}
		case path == "*":
			return "", "*"
		default:
			return "", "/"
		}
	}
	for _, p := range r.patterns {
		if p.Match(path) {
			return "", p.text
		}
	}
	return path, ""
}

// appendCollapsed appends path to dst with its ID-like segments as {id}.
func appendCollapsed(dst []byte, path string) []byte {
	for rest := path; ; {
		seg, next, found := strings.Cut(rest, "/")
		if IDLike(seg) {
			dst = append(dst, "{id}"...)
		} else {
			dst = append(dst, seg...)
		}
		if !found {
			return dst
		}
		dst = append(dst, '/')
		rest = next
	}
}

// IDLike says whether a path segment looks like an identifier rather than
// a name:
//   - all digits, or a number with a short extension (123.jpg);
//   - digits with separators, four digits or more (a date: 2024-01-05);
//   - a UUID;
//   - hexadecimal of 8 digits or more with a decimal digit among them;
//   - a token: 16 characters or more of letters, digits, - and _ (no dot:
//     file names keep theirs), letters and at least two digits mixed.
func IDLike(seg string) bool {
	if seg == "" {
		return false
	}
	digits, hex, letters, seps, dots := 0, 0, 0, 0, 0
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'):
			hex++
		case (c >= 'g' && c <= 'z') || (c >= 'G' && c <= 'Z'):
			letters++
		case c == '-' || c == '_' || c == ':':
			seps++
		case c == '.':
			dots++
		case c == '~' || c == '=' || c == '%':
			seps++
		default:
			return false
		}
	}
	switch {
	case digits == len(seg):
		return true
	case numberWithExtension(seg):
		return true
	case digits >= 4 && digits+seps+dots == len(seg):
		return true
	case isUUID(seg):
		return true
	case digits > 0 && digits+hex == len(seg) && len(seg) >= 8:
		return true
	case len(seg) >= 16 && dots == 0 && digits >= 2 && hex+letters > 0:
		return true
	}
	return false
}

// numberWithExtension: digits, a dot, then one to five letters or digits
// with a letter among them (123.jpg, 42.json).
func numberWithExtension(seg string) bool {
	dot := strings.IndexByte(seg, '.')
	if dot <= 0 || dot == len(seg)-1 || len(seg)-dot-1 > 5 {
		return false
	}
	for i := 0; i < dot; i++ {
		if seg[i] < '0' || seg[i] > '9' {
			return false
		}
	}
	letter := false
	for i := dot + 1; i < len(seg); i++ {
		c := seg[i]
		switch {
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			letter = true
		case c >= '0' && c <= '9':
		default:
			return false
		}
	}
	return letter
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
