package config

import (
	"regexp"
	"strings"
	"testing"
)

// parseErrorAt is the shape of every Parse error: the file, a line, a message.
var parseErrorAt = regexp.MustCompile(`^fuzz\.yaml:[1-9][0-9]*: \S`)

// FuzzConfigParse feeds arbitrary bytes to Parse: it never panics, and an
// error is one line that starts with file:line. Validate, run on what
// parsed, never panics either and says what is wrong in one line.
func FuzzConfigParse(f *testing.F) {
	for _, seed := range []string{
		"pids: [1, 2]\nattach: tracepoint\ncapture_bytes: 2048\nlog_format: json\n",
		"comm: [nginx, curl]\nmax_header_bytes: 4096\ncapture_body_bytes: 0\nexchange_timeout: 5s\n",
		"probes:\n  tracepoint:\n    read_entry: tracepoint:syscalls:sys_enter_read\n",
		"probes:\n  kprobe:\n    close_entry: kprobe:file_close_fd | kprobe:close_fd\n",
		"a: &a [x, x]\nb: &b [*a, *a]\npids: *b\n",
		"pids: [1]\npids: [2]\n",
		"\"a\\nb\": 1\n",
		"pids: {x: 1}\n",
		"capture_bytes: 99999999999999999999\n",
		"\t- x\n",
		"%YAML 1.1\n---\npids: [1]\n...\n---\npids: [2]\n",
		"log_format: !!binary aGk=\n",
		"? [a]\n: b\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", data)
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") || !parseErrorAt.MatchString(msg) {
				t.Fatalf("error is not one line starting with file:line: %q", msg)
			}
			return
		}
		if err := c.Validate(); err != nil && strings.ContainsAny(err.Error(), "\n\r") {
			t.Fatalf("validation error spans lines: %q", err)
		}
	})
}
