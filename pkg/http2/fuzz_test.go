package http2

import (
	"testing"

	"golang.org/x/net/http2/hpack"

	"github.com/httptrace/httptrace/pkg/httpparse"
	"github.com/httptrace/httptrace/pkg/stream"
)

func TestPlaceholders(t *testing.T) {
	var got int
	d := hpack.NewDecoder(1<<16, func(f hpack.HeaderField) {
		if f.Name == placeholderName && f.Value == "" {
			got++
		}
	})
	d.SetAllowedMaxDynamicTableSize(1 << 16)
	if _, err := d.Write(placeholders); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil || got != maxPlaceholders {
		t.Fatalf("placeholder block: %d fields, %v", got, err)
	}
	// The last one added is index 62, the first dynamic index.
	hf, err := d.DecodeFull([]byte{0x80 | 62})
	if err != nil || len(hf) != 1 || hf[0].Name != placeholderName {
		t.Fatalf("index 62: %+v, %v", hf, err)
	}
}

// FuzzConn feeds arbitrary bytes, cut anywhere and with bytes not seen in
// either direction at a fuzzed place, to a connection read from its start,
// joined mid-way, or joined with its roles not known: nothing panics, the
// open streams stay within their bound, every stream ends by the close,
// and everything charged to the budget (fields, bodies) is given back.
func FuzzConn(f *testing.F) {
	c, s := newWire(true), newWire(false)
	t := &testing.T{}
	exchange(t, c, s, 1, "/seed")
	f.Add(c.take(), s.take(), uint8(7), uint16(0), uint8(0), uint8(0))
	f.Add([]byte(Preface+"\x00\x00\x05\x01\x05\x00\x00\x00\x01\x82\x86\x84\x41\x00"), []byte{0, 0, 0, 4, 0, 0, 0, 0, 0}, uint8(1), uint16(3), uint8(1), uint8(2))
	f.Fuzz(func(t *testing.T, a, b []byte, step uint8, skip uint16, skipAt, mode uint8) {
		budget := &httpparse.Budget{Max: 1 << 10}
		fl := newFollower(mode%3 == 0)
		fl.c.lim = Limits{MaxStreams: 8, MaxHeaderBytes: 256, CaptureBodyBytes: 64, Budget: budget}
		if mode%3 == 2 {
			fl.c.Reset(-1, false)
		}
		n := int(step) + 1
		for i, k := 0, 0; i < len(a) || i < len(b); i, k = i+n, k+1 {
			if i < len(a) {
				fl.c.Feed(cli, a[i:min(i+n, len(a))], stream.Meta{})
			}
			if i < len(b) {
				fl.c.Feed(srv, b[i:min(i+n, len(b))], stream.Meta{})
			}
			if skip > 0 && k == int(skipAt) {
				fl.c.Skip(int(skip%2), uint64(skip), skip%4 < 2, stream.Meta{})
			}
		}
		if len(fl.c.streams) > 8 {
			t.Fatalf("%d streams open, limit 8", len(fl.c.streams))
		}
		fl.c.Close()
		if len(fl.c.streams) != 0 {
			t.Fatalf("%d streams left after close", len(fl.c.streams))
		}
		if budget.Used() != 0 {
			t.Fatalf("%d bytes still charged to the budget after the close", budget.Used())
		}
	})
}
