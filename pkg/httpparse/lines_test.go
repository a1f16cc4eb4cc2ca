package httpparse

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// headerFieldSpec is the grammar headerField implements, written
// plainly: the name is every byte before the first colon and all of them
// are tchars; the value, without surrounding blanks, has no control byte
// but HTAB and no DEL.
func headerFieldSpec(line []byte) (name, value Span, fold, ok bool) {
	if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
		return name, value, true, true
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return name, value, false, false
	}
	for _, c := range line[:colon] {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), c) >= 0) {
			return name, value, false, false
		}
	}
	rest := bytes.TrimLeft(line[colon+1:], " \t")
	v := bytes.TrimRight(rest, " \t")
	for _, c := range v {
		if c < ' ' && c != '\t' || c == 0x7f {
			return name, value, false, false
		}
	}
	v0 := len(line) - len(rest)
	return Span{0, int32(colon)}, Span{int32(v0), int32(v0 + len(v))}, false, true
}

// TestHeaderFieldGrammar compares headerField with the plain grammar on
// every byte value at every place of typical lines, and on random lines.
func TestHeaderFieldGrammar(t *testing.T) {
	check := func(line []byte) {
		t.Helper()
		n, v, f, ok := headerField(line)
		wn, wv, wf, wok := headerFieldSpec(line)
		if ok != wok || f != wf || ok && !f && (n != wn || v != wv) {
			t.Fatalf("headerField(%q) = %v %v %v %v, want %v %v %v %v", line, n, v, f, ok, wn, wv, wf, wok)
		}
	}
	for _, base := range []string{"Content-Type: text/plain", "Host:x", "X-A:  b c \t", "a: ", "Via:", ":x", "K\t: v"} {
		for i := 0; i < len(base); i++ {
			for c := range 256 {
				line := []byte(base)
				line[i] = byte(c)
				check(line)
			}
		}
	}
	rng := rand.New(rand.NewPCG(7, 8))
	alphabet := []byte("aZ09-_:: \t\x00\x7f\x80\xff\"(")
	for range 200_000 {
		line := make([]byte, rng.IntN(12))
		for i := range line {
			line[i] = alphabet[rng.IntN(len(alphabet))]
		}
		check(line)
	}
}
