package output

import "testing"

// FuzzPlainPrefix holds the word-at-a-time scans to the byte-by-byte
// definitions of the bytes the escaping loops let through.
func FuzzPlainPrefix(f *testing.F) {
	for _, seed := range []string{"", "nginx/1.22.1", "Fri, 27 Nov 2026 02:26:34 GMT", "a\"b", "caf\xc3\xa9 au lait", "0123456\x7f89"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := func(plain func(c byte) bool) int {
			for i := 0; i < len(s); i++ {
				if !plain(s[i]) {
					return i
				}
			}
			return len(s)
		}
		if got, w := jsonPlain(s), want(func(c byte) bool { return c < 0x80 && jsonSafe[c] }); got != w {
			t.Errorf("jsonPlain(%q) = %d, want %d", s, got, w)
		}
		for _, space := range []bool{false, true} {
			text := func(c byte) bool { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && !(space && c == ' ') }
			if got, w := textPlain(s, space), want(text); got != w {
				t.Errorf("textPlain(%q, %v) = %d, want %d", s, space, got, w)
			}
		}
	})
}
