// Redaction of secret query parameter values in a request target.
package redact

import "strings"

// redactPath returns p with the values of secret query parameters replaced,
// and every other byte as it was (nothing is re-encoded). It returns p
// itself, with no allocation, when nothing is secret.
func (r *Redactor) redactPath(p string) string {
	q := indexByte(p, '?', 0)
	if q < 0 {
		return p
	}
	end := indexByte(p, '#', q) // a fragment is not part of the query
	if end < 0 {
		end = len(p)
	}
	var out strings.Builder // empty until the first secret
	copied := 0             // bytes of p already in out
	for i := q + 1; i <= end; {
		j := indexByte(p[:end], '&', i)
		if j < 0 {
			j = end
		}
		if eq := indexByte(p[:j], '=', i); eq >= 0 && eq+1 < j && r.secretParam(p[i:eq]) {
			if copied == 0 {
				out.Grow(len(p) + len(Mask))
			}
			out.WriteString(p[copied : eq+1])
			out.WriteString(r.replacement(p[eq+1 : j]))
			copied = j
		}
		i = j + 1
	}
	if copied == 0 {
		return p
	}
	out.WriteString(p[copied:])
	return out.String()
}

// indexByte is the index of the first c in s at or after from, or -1.
func indexByte(s string, c byte, from int) int {
	if i := strings.IndexByte(s[from:], c); i >= 0 {
		return from + i
	}
	return -1
}

// secretParam reports whether the encoded parameter name is on the list.
func (r *Redactor) secretParam(encoded string) bool {
	if encoded == "" || !r.queryFirst[encoded[0]] {
		return false // names are not empty, and none starts so
	}
	for _, name := range r.query {
		if nameIs(encoded, name) {
			return true
		}
	}
	return false
}

// nameIs compares a percent-encoded query name with a plain one, ignoring
// ASCII case: "Access%5Ftoken" and "ACCESS_TOKEN" both name access_token. A
// '+' is a space; a '%' not followed by two hex digits stands for itself.
func nameIs(encoded, name string) bool {
	if len(encoded) < len(name) || len(encoded) > 3*len(name) {
		return false
	}
	k := 0
	for i := 0; i < len(encoded); k++ {
		c := encoded[i]
		switch {
		case c == '+':
			c = ' '
			i++
		case c == '%' && i+2 < len(encoded) && isHex(encoded[i+1]) && isHex(encoded[i+2]):
			c = unhex(encoded[i+1])<<4 | unhex(encoded[i+2])
			i += 3
		default:
			i++
		}
		if k >= len(name) || lower(c) != lower(name[k]) {
			return false
		}
	}
	return k == len(name)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - ('a' - 'A')
	}
	return c
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
