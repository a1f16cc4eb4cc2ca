package bpftrace

import (
	"fmt"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/pkg/httpparse"
)

// parsed is what pkg/httpparse makes of a message head: a request, a
// response, or nothing.
func parsed(head string) Kind {
	var p httpparse.Parser
	p.Reset(httpparse.Limits{MaxHeaderBytes: 4096}, false)
	b := []byte(head)
	for {
		n, ev := p.Feed(b)
		b = b[n:]
		switch ev {
		case httpparse.Head:
			if p.Msg().Request {
				return Request
			}
			return Response
		case httpparse.Desync:
			return Other
		case httpparse.None:
			return Other
		}
	}
}

// TestClassesMatchParser holds each byte class of the check to the parser,
// byte value by byte value, in the position the class serves.
func TestClassesMatchParser(t *testing.T) {
	tests := []struct {
		name  string
		class class
		head  func(c byte) string
		want  Kind
	}{
		{"method start", methodChar, func(c byte) string { return string(c) + "ET / HTTP/1.1\r\n\r\n" }, Request},
		{"method char", methodChar, func(c byte) string { return "G" + string(c) + "T / HTTP/1.1\r\n\r\n" }, Request},
		{"status first digit", statusFirst, func(c byte) string { return "HTTP/1.1 " + string(c) + "00 OK\r\n\r\n" }, Response},
		{"status digit", digit, func(c byte) string { return "HTTP/1.1 2" + string(c) + "0 OK\r\n\r\n" }, Response},
		{"after the status", afterStatus, func(c byte) string {
			if c == '\r' || c == '\n' {
				return "HTTP/1.1 200" + string(c) + "\n\r\n" // CR LF, or LF alone
			}
			return "HTTP/1.1 200" + string(c) + "OK\r\n\r\n"
		}, Response},
	}
	for _, tt := range tests {
		for v := 0; v < 256; v++ {
			c := byte(v)
			if tt.name == "method start" && (c == '\r' || c == '\n') {
				continue // the parser skips line ends before a start line; the check does not
			}
			got := parsed(tt.head(c)) == tt.want
			if got != tt.class.has(c) {
				t.Errorf("%s: byte 0x%02x: the parser accepts it %v, the class %v", tt.name, c, got, tt.class.has(c))
			}
		}
	}
}

// TestClassifyMatchesParser holds the check (in Go) to the parser on whole
// heads: it must agree wherever the first Window bytes decide, and the
// known differences are listed.
func TestClassifyMatchesParser(t *testing.T) {
	var heads []string
	for _, m := range []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
		"PROPFIND", "M-SEARCH", "MKCALENDAR", "VERSION-CONTROL", "X", "BREW", "get", "Get", "1GET", "G3T", "-GET"} {
		heads = append(heads, m+" /p HTTP/1.1\r\nHost: h\r\n\r\n", m+" * HTTP/1.0\r\n\r\n")
	}
	for _, s := range []string{"HTTP/1.1 200 OK", "HTTP/1.0 404 Not Found", "HTTP/1.1 101", "HTTP/1.1 599 X",
		"HTTP/1.1 600 X", "HTTP/1.1 099 X", "HTTP/1.1 20 OK", "HTTP/2.0 200 OK", "HTTP/1.2 200 OK", "http/1.1 200 OK",
		"HTTP/1.1 200OK", "HTTP/1.1  200 OK"} {
		heads = append(heads, s+"\r\nContent-Length: 0\r\n\r\n")
	}
	heads = append(heads, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", "{\"json\": 1}\n", "", "GET", "GET /\x00 HTTP/1.1\r\n\r\n")
	// Where the first Window bytes cannot decide: the check says request,
	// the parser, seeing the whole line, does not; or the method is longer
	// than the window holds.
	known := map[string]Kind{
		"GET /\x00 HTTP/1.1\r\n\r\n": Request,
	}
	for _, h := range heads {
		want := parsed(h)
		if k, ok := known[h]; ok {
			want = k
		}
		if sp := strings.IndexByte(h, ' '); want == Request && sp >= Window {
			want = Other // methods of Window or more characters are missed
		}
		if got := Classify([]byte(h), len(h)); got != want {
			t.Errorf("%q: the check says %v, want %v", h, got, want)
		}
	}
	// The check only believes bytes that were moved.
	for _, tc := range []struct {
		head string
		n    int
		want Kind
	}{
		{"GET / HTTP/1.1", 3, Other}, {"GET / HTTP/1.1", 4, Request},
		{"HTTP/1.1 200 OK", 11, Other}, {"HTTP/1.1 200", 12, Response}, {"HTTP/1.1 200X", 12, Response},
	} {
		if got := Classify([]byte(tc.head), tc.n); got != tc.want {
			t.Errorf("%q of %d bytes: the check says %v, want %v", tc.head, tc.n, got, tc.want)
		}
	}
}

func (k Kind) String() string { return [...]string{"other", "request", "response"}[k] }

// TestClassifyWritten checks the program's check is written from the same
// classes and window as Classify.
func TestClassifyWritten(t *testing.T) {
	var b strings.Builder
	classify(&b, "")
	got := b.String()
	want := []string{
		"$w1 = *(uint64 *)($b + 8);",
		fmt.Sprintf("} else if (!%s) {\n\t$sp = %d;", methodChar.expr(byteAt(Window-1)), Window-1),
		"if (" + methodChar.expr("($w0 & 0xff)") + " && $end == 0x20 && $sp < $seen) {",
		`$w0 == 0x312e312f50545448 /* "HTTP/1.1" */ || $w0 == 0x302e312f50545448 /* "HTTP/1.0" */`,
		statusFirst.expr("(($w1 >> 8) & 0xff)"), afterStatus.expr("(($w1 >> 32) & 0xff)"),
		`printf("REQ pid=%d fd=%d bytes=%d %r\n", pid, $fd, $ret, buf($b, $n));`,
		`printf("RESP pid=%d fd=%d bytes=%d %r\n", pid, $fd, $ret, buf($b, $n));`,
	}
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("the check lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, fmt.Sprintf("$sp = %d;", Window)) {
		t.Errorf("the check looks past the window:\n%s", got)
	}
}
