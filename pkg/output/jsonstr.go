// JSON string escaping into a byte slice, without reflection or allocation.
package output

import (
	"encoding/binary"
	"unicode/utf8"
	"unsafe"
)

const hexDigits = "0123456789abcdef"

// jsonSafe marks the ASCII bytes that go into a JSON string unchanged.
// '<', '>' and '&' are safe here: the output is a log, not HTML, so they
// stay readable (encoding/json would write \u003c and so on); both forms
// are valid JSON and decode to the same string.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s as a quoted JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONEscaped(b, s)
	return append(b, '"')
}

// appendJSONBytes appends p as a quoted JSON string.
func appendJSONBytes(b []byte, p []byte) []byte {
	// The string view of p lives only for this call and p is not written
	// meanwhile, so it needs no copy.
	return appendJSONString(b, unsafe.String(unsafe.SliceData(p), len(p)))
}

// appendJSONEscaped appends the inside of a JSON string for s, as
// encoding/json does apart from '<', '>' and '&': '"' and '\' are escaped,
// control bytes become \n, \r, \t, \b, \f or \u00XX, each byte of invalid
// UTF-8 becomes \ufffd, and U+2028 and U+2029 are escaped so the line is
// safe for JavaScript readers too.
func appendJSONEscaped(b []byte, s string) []byte {
	i := jsonPlain(s)
	if i == len(s) {
		return append(b, s...)
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(b, s[start:]...)
}

// Byte-parallel tests on 8 bytes at a time: lsb has the lowest bit of
// every byte set, msb the highest.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// wordAt is the 8 bytes of s from i, in either order (the tests below look
// at each byte the same way).
func wordAt(s string, i int) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:i+8]), 8))
}

// hasByte reports whether a byte of x is c (exact for "any", whatever the
// other bytes).
func hasByte(x uint64, c byte) bool {
	y := x ^ lsb*uint64(c)
	return (y-lsb)&^y&msb != 0
}

// hasBelow reports whether a byte of x is less than n (n <= 128), or has
// its high bit set.
func hasBelow(x uint64, n byte) bool { return (x|(x-lsb*uint64(n))&^x)&msb != 0 }

// jsonPlain is the length of the longest prefix of s that goes into a JSON
// string unchanged: printable ASCII other than '"' and '\', checked 8
// bytes at a time (the last 8 overlapping the ones before), byte by byte
// in a string shorter than 8 and from the word that holds a byte to escape.
func jsonPlain(s string) int {
	n, i := len(s), 0
	if n >= 8 {
		for ; i+8 <= n; i += 8 {
			if !jsonPlainWord(wordAt(s, i)) {
				break
			}
		}
		if i == n || i+8 > n && jsonPlainWord(wordAt(s, n-8)) {
			return n
		}
	}
	for i < n && s[i] < utf8.RuneSelf && jsonSafe[s[i]] {
		i++
	}
	return i
}

func jsonPlainWord(x uint64) bool { return !hasBelow(x, 0x20) && !hasByte(x, '"') && !hasByte(x, '\\') }
