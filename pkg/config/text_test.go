package config

import (
	"strings"
	"testing"
	"time"
)

// TestTextCheck checks the line each text error names.
func TestTextCheck(t *testing.T) {
	cases := []struct {
		data, want string
	}{
		{"pids: [1]\n", ""},
		{"comm: [café, 名前]\t# tabs and UTF-8 are text\n", ""},
		{"a: 1\nb: \xff\n", "f.yaml:2: not valid UTF-8 text"},
		{"a: 1\n\nb: \x07\n", "f.yaml:3: character U+0007 is not allowed in YAML"},
		{"\x00", "f.yaml:1: character U+0000 is not allowed in YAML"},
		{"a: \u00851\r\nb: \ufffe\n", "f.yaml:2: character U+FFFE is not allowed in YAML"},
	}
	for _, tc := range cases {
		err := checkText("f.yaml", []byte(tc.data))
		if got := errString(err); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.data, got, tc.want)
		}
	}
}

// TestParseLargeFileIsFast: a file at the size limit parses in well under
// a second (the checks before YAML are linear).
func TestParseLargeFileIsFast(t *testing.T) {
	data := []byte(strings.Repeat("# a comment line\n", MaxFileBytes/17) + "pids: [1]\n")
	start := time.Now()
	if _, err := Parse("big.yaml", data); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("parsing %d bytes took %s", len(data), d)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
