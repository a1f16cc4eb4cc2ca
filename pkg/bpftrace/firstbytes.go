// The first-bytes check: does a read or write start like an HTTP/1.x request or response?

package bpftrace

import (
	"fmt"
	"strings"
)

// Window is how many first bytes the check looks at: two 64-bit words.
const Window = 16

// byteRange is an inclusive range of byte values.
type byteRange struct{ lo, hi byte }

// class is a set of byte values, as ranges.
type class []byteRange

// The classes of the start-line grammar of pkg/httpparse (lines.go) that
// the check uses; its tests hold them to the parser byte by byte.
var (
	// methodChar may appear in a method, first byte included: isMethodChar.
	methodChar = class{{'A', 'Z'}, {'-', '-'}, {'_', '_'}}
	// statusFirst and digit are a status code's first and other digits.
	statusFirst = class{{'1', '5'}}
	digit       = class{{'0', '9'}}
	// afterStatus may follow the three digits: the reason's space or the line end.
	afterStatus = class{{' ', ' '}, {'\r', '\r'}, {'\n', '\n'}}
)

// statusProtos are the versions a status line may start with.
var statusProtos = []string{"HTTP/1.1", "HTTP/1.0"}

// has reports whether c holds b.
func (c class) has(b byte) bool {
	for _, r := range c {
		if b >= r.lo && b <= r.hi {
			return true
		}
	}
	return false
}

// expr is the bpftrace condition that the byte value e is in the class.
func (c class) expr(e string) string {
	parts := make([]string, len(c))
	for i, r := range c {
		if r.lo == r.hi {
			parts[i] = fmt.Sprintf("%s == 0x%02x", e, r.lo)
		} else {
			parts[i] = fmt.Sprintf("(%s >= 0x%02x && %s <= 0x%02x)", e, r.lo, e, r.hi)
		}
	}
	return "(" + strings.Join(parts, " || ") + ")"
}

// byteAt is the bpftrace expression of byte i of the window: the words
// $w0 and $w1 hold it little-endian, as it sits in memory.
func byteAt(i int) string {
	w, shift := i/8, 8*(i%8)
	if shift == 0 {
		return fmt.Sprintf("($w%d & 0xff)", w)
	}
	return fmt.Sprintf("(($w%d >> %d) & 0xff)", w, shift)
}

// word is eight bytes as one little-endian word, for comparing with $w0.
func word(s string) uint64 {
	var w uint64
	for i := len(s) - 1; i >= 0; i-- {
		w = w<<8 | uint64(s[i])
	}
	return w
}

// classify writes the statements that look at the first bytes at $b, of
// which $seen were moved there ($ret in all), and print a REQ or RESP line
// showing $n of them ($http1 says whether one was printed).
// A request is a method token (methodChar bytes) ended by a space within
// the window; a response is "HTTP/1.x NNN" then a space or
// the line end.
func classify(b *strings.Builder, indent string) {
	line := func(format string, args ...any) {
		b.WriteString(indent)
		fmt.Fprintf(b, format, args...)
		b.WriteString("\n")
	}
	line("$http1 = 0;")
	line("// The first %d bytes as two little-endian words.", Window)
	line("$w0 = *(uint64 *)$b;")
	line("$w1 = *(uint64 *)($b + 8);")
	line("// The method ends at its first byte that is not a method character.")
	line("$sp = 0;")
	line("$end = 0;")
	for i := 1; i < Window; i++ {
		kw := "} else if"
		if i == 1 {
			kw = "if"
		}
		line("%s (!%s) {", kw, methodChar.expr(byteAt(i)))
		line("\t$sp = %d;", i)
		line("\t$end = %s;", byteAt(i))
	}
	line("}")
	line("if (%s && $end == 0x20 && $sp < $seen) {", methodChar.expr(byteAt(0)))
	line("\t$http1 = 1;")
	line("\tprintf(\"REQ pid=%%d fd=%%d bytes=%%d %%r\\n\", pid, $fd, $ret, buf($b, $n));")
	var protos []string
	for _, p := range statusProtos {
		protos = append(protos, fmt.Sprintf("$w0 == 0x%016x /* %q */", word(p), p))
	}
	line("} else if ($seen >= 12 && (%s) &&", strings.Join(protos, " || "))
	line("    %s == 0x20 && %s && %s && %s &&", byteAt(8), statusFirst.expr(byteAt(9)), digit.expr(byteAt(10)), digit.expr(byteAt(11)))
	line("    ($seen == 12 || %s)) {", afterStatus.expr(byteAt(12)))
	line("\t$http1 = 1;")
	line("\tprintf(\"RESP pid=%%d fd=%%d bytes=%%d %%r\\n\", pid, $fd, $ret, buf($b, $n));")
	line("}")
}

// Kind is what the first bytes of a read or write look like.
type Kind int

// The kinds.
const (
	Other Kind = iota
	Request
	Response
)

// Classify is the check the program makes, in Go: what the first bytes of
// n moved look like. The program's own code is written by classify from
// the same classes; tests hold both to pkg/httpparse.
func Classify(first []byte, n int) Kind {
	var win [Window]byte
	copy(win[:], first)
	at := func(i int) byte { return win[i] }
	sp := 0
	var end byte
	for i := 1; i < Window; i++ {
		if !methodChar.has(at(i)) {
			sp, end = i, at(i)
			break
		}
	}
	if methodChar.has(at(0)) && end == ' ' && sp < n {
		return Request
	}
	proto := false
	for _, p := range statusProtos {
		proto = proto || string(win[:8]) == p
	}
	if n >= 12 && proto && at(8) == ' ' && statusFirst.has(at(9)) && digit.has(at(10)) && digit.has(at(11)) &&
		(n == 12 || afterStatus.has(at(12))) {
		return Response
	}
	return Other
}
