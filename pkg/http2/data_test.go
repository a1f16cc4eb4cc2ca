package http2

import (
	"bytes"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/pkg/httpparse"
	"github.com/httptrace/httptrace/pkg/stream"
)

// grpcMsg is one gRPC message: an uncompressed flag, its length, n bytes.
func grpcMsg(n int, c byte) []byte {
	return append([]byte{0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, bytes.Repeat([]byte{c}, n)...)
}

// A client-streaming call: three messages, one split over two DATA
// frames, one frame holding two; the answer one message. Each body's
// first bytes are kept up to the limit.
func TestGRPCMessagesAndBodies(t *testing.T) {
	c, s := newWire(true), newWire(false)
	c.headers(t, 1, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/pkg.S/Upload", "content-type", "application/grpc")
	m1, m2, m3 := grpcMsg(10, 'a'), grpcMsg(3000, 'b'), grpcMsg(0, 'c')
	body := append(append(append([]byte(nil), m1...), m2...), m3...)
	for _, part := range [][]byte{body[:7], body[7:2000], body[2000:]} {
		if err := c.fr.WriteData(1, false, part); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.fr.WriteData(1, true, nil); err != nil {
		t.Fatal(err)
	}
	s.headers(t, 1, false, ":status", "200", "content-type", "application/grpc")
	if err := s.fr.WriteDataPadded(1, false, grpcMsg(4, 'r'), make([]byte, 3)); err != nil {
		t.Fatal(err)
	}
	s.headers(t, 1, true, "grpc-status", "0")
	f := newFollower(true)
	f.c.lim.CaptureBodyBytes = 12
	f.feed(cli, c.take(), 100)
	f.feed(srv, s.take(), 0)
	st := f.one(t)
	if st.Request.GRPCMessages() != 3 || st.Response.GRPCMessages() != 1 {
		t.Errorf("messages %d and %d, want 3 and 1", st.Request.GRPCMessages(), st.Response.GRPCMessages())
	}
	if !bytes.Equal(st.Request.Body, body[:12]) || !bytes.Equal(st.Response.Body, grpcMsg(4, 'r')[:9]) {
		t.Errorf("bodies %q and %q", st.Request.Body, st.Response.Body)
	}
}

// Bytes not seen inside a message leave the count; bytes not seen where a
// prefix lies make it unknown (-1), never a guess.
func TestGRPCMessagesNotSeen(t *testing.T) {
	for _, tc := range []struct {
		name      string
		seen, cut int // of the one DATA frame: seen bytes, then bytes not captured
		want      int
	}{
		{"the rest of the first message", 100, 1905, 2},
		{"inside the first message", 100, 1500, 2},
		{"into the second prefix", 100, 1906, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s := newWire(true), newWire(false)
			c.headers(t, 1, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/pkg.S/Up", "content-type", "application/grpc")
			pre := c.take()
			payload := append(grpcMsg(2000, 'a'), grpcMsg(5, 'b')...) // 2005 + 10 bytes
			if err := c.fr.WriteData(1, true, payload); err != nil {
				t.Fatal(err)
			}
			d := c.take()
			s.headers(t, 1, true, ":status", "200", "grpc-status", "0")
			f := newFollower(true)
			f.feed(cli, pre, 0)
			f.feed(cli, d[:frameHeaderLen+tc.seen], 0)
			f.c.Skip(cli, uint64(tc.cut), false, stream.Meta{})
			f.feed(cli, d[frameHeaderLen+tc.seen+tc.cut:], 0)
			f.feed(srv, s.take(), 0)
			st := f.one(t)
			if got := st.Request.GRPCMessages(); got != tc.want {
				t.Errorf("messages %d, want %d", got, tc.want)
			}
		})
	}
}

// Header fields kept are charged to the budget shared with the HTTP/1
// parsers: past it a message is truncated, and all is given back when
// the streams end.
func TestHeaderBudget(t *testing.T) {
	c, s := newWire(true), newWire(false)
	big := strings.Repeat("v", 60)
	c.headers(t, 1, false, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/1", "x-a", big)
	c.headers(t, 3, false, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/3", "x-b", big)
	f := newFollower(true)
	budget := &httpparse.Budget{Max: 100}
	f.c.lim.Budget = budget
	f.feed(cli, c.take(), 0)
	one, three := f.c.streams[1], f.c.streams[3]
	if one.Request.Truncated || !three.Request.Truncated || budget.Refused != 1 || budget.Used() != 63 {
		t.Errorf("stream 1 truncated %v, stream 3 %v; budget used %d, refused %d", one.Request.Truncated, three.Request.Truncated, budget.Used(), budget.Refused)
	}
	s.headers(t, 1, true, ":status", "200")
	s.headers(t, 3, true, ":status", "200")
	f.feed(srv, s.take(), 0)
	f.c.Close()
	if len(f.got) != 2 || budget.Used() != 0 {
		t.Errorf("after the streams ended: %d streams, budget used %d", len(f.got), budget.Used())
	}
}

// A kept body stops at its first byte not seen (no splice over it), and
// is charged to the budget until its stream is recycled.
func TestBodyStopsAtUnseen(t *testing.T) {
	c := newWire(true)
	c.headers(t, 1, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/b")
	pre := c.take()
	if err := c.fr.WriteData(1, true, []byte("AAAAABBBBBCCCCC")); err != nil {
		t.Fatal(err)
	}
	d := c.take()
	f := newFollower(true)
	budget := &httpparse.Budget{Max: 1 << 20}
	f.c.lim.Budget, f.c.lim.CaptureBodyBytes = budget, 100
	f.feed(cli, pre, 0)
	f.feed(cli, d[:frameHeaderLen+5], 0)
	f.c.Skip(cli, 5, false, stream.Meta{})
	f.feed(cli, d[frameHeaderLen+10:], 0)
	st := f.c.streams[1]
	if string(st.Request.Body) != "AAAAA" || !st.Request.BodyCut() || st.Request.BodyBytes != 15 {
		t.Errorf("body %q cut %v bytes %d", st.Request.Body, st.Request.BodyCut(), st.Request.BodyBytes)
	}
	f.c.Close()
	if budget.Used() != 0 {
		t.Errorf("budget used %d after the close", budget.Used())
	}
}

// Fields of a header block read while the roles are not known are given
// back at the close.
func TestScratchReleasedOnClose(t *testing.T) {
	s := newWire(false)
	s.headers(t, 1, true, "grpc-status", "0")
	f := newFollower(false)
	budget := &httpparse.Budget{Max: 1 << 20}
	f.c.lim.Budget = budget
	f.c.Reset(-1, false)
	f.feed(srv, s.take(), 0)
	if budget.Used() == 0 {
		t.Fatal("the block's fields were not charged")
	}
	f.c.Close()
	if budget.Used() != 0 {
		t.Errorf("budget used %d after the close", budget.Used())
	}
}
