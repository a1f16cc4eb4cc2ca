// Fuzz target: arbitrary bytes in arbitrary chunks never panic, never grow
// buffers past their bounds, account for every byte, and give the same
// messages however they are cut.
package httpparse

import (
	"fmt"
	"testing"
)

func FuzzParser(f *testing.F) {
	f.Add([]byte(reqGet+reqPost+resp200), []byte{3, 7, 1}, uint8(0))
	f.Add([]byte(chunked+resp404), []byte{1, 50, 2}, uint8(1))
	f.Add([]byte("HTTP/1.0 200 OK\r\n\r\nbody"), []byte{0}, uint8(2))
	f.Fuzz(func(t *testing.T, in, cuts []byte, mode uint8) {
		lim := Limits{MaxHeaderBytes: 300, CaptureBodyBytes: 5}
		want := Want(mode % 3)
		whole := newFeeder(lim, mode&4 != 0, want)
		whole.feed(in)
		whole.close()

		f := newFeeder(lim, mode&4 != 0, want)
		rest := in
		for i := 0; len(rest) > 0; i++ {
			n := len(rest)
			if len(cuts) > 0 {
				n = min(n, 1+int(cuts[i%len(cuts)]))
			}
			f.feed(rest[:n])
			rest = rest[n:]
			checkBounds(t, &f.p, lim)
		}
		f.close()
		if a, b := fmt.Sprint(whole.msgs), fmt.Sprint(f.msgs); a != b {
			t.Fatalf("chunking changed the messages:\nwhole   %s\nchunked %s", a, b)
		}
		var wire uint64
		for _, m := range f.msgs {
			wire += m.wire
		}
		if wire+f.p.Skipped > uint64(len(in)) {
			t.Fatalf("%d message bytes and %d skipped of %d fed", wire, f.p.Skipped, len(in))
		}

		// The same bytes with gaps between chunks must not panic either.
		g := newFeeder(lim, mode&4 != 0, want)
		for i, rest := 0, in; len(rest) > 0; i++ {
			n := min(len(rest), 1+i*7%13)
			g.feed(rest[:n])
			rest = rest[n:]
			if len(cuts) > 0 {
				g.skip(uint64(cuts[i%len(cuts)]%17), i%2 == 0)
			}
			checkBounds(t, &g.p, lim)
		}
		g.close()
	})
}

func checkBounds(t *testing.T, p *Parser, lim Limits) {
	m := p.Msg()
	if len(m.head) > lim.MaxHeaderBytes || len(p.line) > lim.MaxHeaderBytes || len(m.Body) > lim.CaptureBodyBytes {
		t.Fatalf("buffers past bounds: head %d line %d body %d", len(m.head), len(p.line), len(m.Body))
	}
}
