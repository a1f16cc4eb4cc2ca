// Checks that a configuration file is text YAML can read, so its errors
// name a line.
package config

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// checkText fails on the first byte sequence that is not valid UTF-8 or is
// a character YAML does not allow (most control characters), naming its line.
func checkText(name string, data []byte) error {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return fmt.Errorf("%s:%d: not valid UTF-8 text", name, line)
		case !yamlChar(r):
			return fmt.Errorf("%s:%d: character %U is not allowed in YAML", name, line, r)
		}
		if r == '\n' {
			line++
		}
		i += size
	}
	return nil
}

// yamlChar reports whether YAML 1.2 allows r in a stream (c-printable).
func yamlChar(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r' || r == 0x85:
		return true
	case r >= 0x20 && r <= 0x7e, r >= 0xa0 && r <= 0xd7ff, r >= 0xe000 && r <= 0xfffd, r >= 0x10000 && r <= 0x10ffff:
		return true
	}
	return false
}

// printable quotes s when it holds a character that does not print (a
// newline, say), so a message that shows it stays one line, and when it is
// empty or starts or ends with a space, so the message shows where it ends.
func printable(s string) string {
	if s == "" || strings.TrimSpace(s) != s || strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return s
}
