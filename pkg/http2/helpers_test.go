package http2

import (
	"bytes"
	"slices"
	"testing"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/httptrace/httptrace/pkg/stream"
)

const (
	cli = 0 // the client's direction in these tests
	srv = 1
)

// wire writes one direction of a connection with x/net's framer and HPACK
// encoder, as a real peer does.
type wire struct {
	buf bytes.Buffer
	fr  *http2.Framer
	enc *hpack.Encoder
	hb  bytes.Buffer
}

func newWire(preface bool) *wire {
	w := &wire{}
	if preface {
		w.buf.WriteString(Preface)
	}
	w.fr = http2.NewFramer(&w.buf, nil)
	w.enc = hpack.NewEncoder(&w.hb)
	return w
}

// block encodes fields (name, value pairs) into a header block.
func (w *wire) block(kv ...string) []byte {
	w.hb.Reset()
	for i := 0; i+1 < len(kv); i += 2 {
		w.enc.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
	}
	return bytes.Clone(w.hb.Bytes())
}

func (w *wire) headers(t *testing.T, id uint32, end bool, kv ...string) {
	t.Helper()
	if err := w.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: w.block(kv...), EndStream: end, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
}

func (w *wire) data(t *testing.T, id uint32, end bool, n int) {
	t.Helper()
	if err := w.fr.WriteData(id, end, bytes.Repeat([]byte{'x'}, n)); err != nil {
		t.Fatal(err)
	}
}

func (w *wire) settings(t *testing.T, s ...http2.Setting) {
	t.Helper()
	if err := w.fr.WriteSettings(s...); err != nil {
		t.Fatal(err)
	}
}

// take returns the bytes written so far and forgets them.
func (w *wire) take() []byte {
	b := bytes.Clone(w.buf.Bytes())
	w.buf.Reset()
	return b
}

// follower is a Conn with what it emitted.
type follower struct {
	c     *Conn
	stats Stats
	got   []Stream
	at    uint64
}

func newFollower(fromStart bool) *follower {
	f := &follower{}
	f.c = NewConn(Limits{MaxStreams: 1000, MaxHeaderBytes: 64 << 10}, &f.stats, func(s *Stream) {
		// The stream and what it points to are reused once emit returns.
		c := *s
		for _, m := range []*Message{&c.Request, &c.Response} {
			m.Fields, m.Trailers, m.Body = slices.Clone(m.Fields), slices.Clone(m.Trailers), slices.Clone(m.Body)
		}
		f.got = append(f.got, c)
	})
	f.c.Reset(cli, fromStart)
	return f
}

// feed passes b in pieces of at most step bytes (0: whole).
func (f *follower) feed(dir int, b []byte, step int) {
	if step <= 0 {
		step = len(b) + 1
	}
	for len(b) > 0 {
		k := min(step, len(b))
		f.at++
		f.c.Feed(dir, b[:k], stream.Meta{At: f.at})
		b = b[k:]
	}
}

func (f *follower) one(t *testing.T) Stream {
	t.Helper()
	if len(f.got) != 1 {
		t.Fatalf("streams: got %d, want 1: %+v", len(f.got), f.got)
	}
	return f.got[0]
}

func field(fs []Field, name string) string { return fieldValue(fs, name) }
