package http2

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/net/http2"

	"github.com/httptrace/httptrace/pkg/stream"
)

// exchange writes one GET and its answer on stream id.
func exchange(t *testing.T, c, s *wire, id uint32, path string) {
	c.headers(t, id, true, ":method", "GET", ":scheme", "http", ":authority", "example.test", ":path", path, "user-agent", "t/1")
	s.headers(t, id, false, ":status", "200", "content-type", "text/plain", "server", "t")
	s.data(t, id, true, 11)
}

func TestStreamWholeAndSplitAnywhere(t *testing.T) {
	c, s := newWire(true), newWire(false)
	c.settings(t)
	s.settings(t, http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
	exchange(t, c, s, 1, "/a?b=c")
	cb, sb := c.take(), s.take()
	for _, step := range []int{0, 1, 2, 7, 9, 10} {
		t.Run(fmt.Sprint(step), func(t *testing.T) {
			f := newFollower(true)
			f.feed(cli, cb, step)
			f.feed(srv, sb, step)
			st := f.one(t)
			q, r := st.Request, st.Response
			if st.ID != 1 || q.Method != "GET" || q.Path != "/a?b=c" || q.Authority != "example.test" || q.Scheme != "http" {
				t.Errorf("request: %+v", q)
			}
			if field(q.Fields, "user-agent") != "t/1" || len(q.Fields) != 1 {
				t.Errorf("request fields: %+v", q.Fields)
			}
			if r.Status != 200 || field(r.Fields, "server") != "t" || r.BodyBytes != 11 || !r.Ended || !q.Ended {
				t.Errorf("response: %+v", r)
			}
			if q.Gap || r.Gap || q.Unresolved+r.Unresolved != 0 || st.Incomplete() {
				t.Errorf("flags: %+v", st)
			}
			// The response's frames: a HEADERS frame and a DATA frame of 11 bytes.
			if r.Bytes != uint64(len(sb))-frameHeaderLen-6 /* the SETTINGS */ {
				t.Errorf("response bytes %d of %d written", r.Bytes, len(sb))
			}
		})
	}
}

func TestConcurrentStreamsInterleaved(t *testing.T) {
	c, s := newWire(true), newWire(false)
	const n = 100
	for i := uint32(0); i < n; i++ {
		c.headers(t, 2*i+1, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", fmt.Sprintf("/p/%d", i))
	}
	for i := uint32(0); i < n; i++ {
		c.data(t, 2*i+1, true, int(i))
	}
	for i := int(n) - 1; i >= 0; i-- { // answered in reverse order
		s.headers(t, uint32(2*i+1), false, ":status", "201", "x-i", fmt.Sprint(i))
		s.data(t, uint32(2*i+1), true, 2*i)
	}
	f := newFollower(true)
	f.feed(cli, c.take(), 333)
	f.feed(srv, s.take(), 333)
	if len(f.got) != n {
		t.Fatalf("streams: %d, want %d", len(f.got), n)
	}
	for _, st := range f.got {
		i := (st.ID - 1) / 2
		if st.Request.Path != fmt.Sprintf("/p/%d", i) || field(st.Response.Fields, "x-i") != fmt.Sprint(i) ||
			st.Request.BodyBytes != uint64(i) || st.Response.BodyBytes != uint64(2*i) || st.Response.Status != 201 {
			t.Errorf("stream %d paired wrong: %+v", st.ID, st)
		}
	}
}

func TestHeaderBlockAcrossContinuation(t *testing.T) {
	c, s := newWire(true), newWire(false)
	big := strings.Repeat("v", 20<<10)
	blk := c.block(":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/big", "x-big", big, "x-after", "1")
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:5000], EndStream: true}); err != nil {
		t.Fatal(err)
	}
	for rest := blk[5000:]; len(rest) > 0; {
		k := min(len(rest), 6000)
		if err := c.fr.WriteContinuation(1, k == len(rest), rest[:k]); err != nil {
			t.Fatal(err)
		}
		rest = rest[k:]
	}
	s.headers(t, 1, true, ":status", "204")
	f := newFollower(true)
	f.feed(cli, c.take(), 4096)
	f.feed(srv, s.take(), 0)
	st := f.one(t)
	if field(st.Request.Fields, "x-big") != big || field(st.Request.Fields, "x-after") != "1" || st.Request.Unresolved != 0 {
		t.Errorf("20 KiB block across CONTINUATION: %d fields, unresolved %d", len(st.Request.Fields), st.Request.Unresolved)
	}
}

func TestDynamicTableSizeChangeEvicts(t *testing.T) {
	c, s := newWire(true), newWire(false)
	f := newFollower(true)
	// Stream 1 fills the client's table; the server then allows a table of
	// 64 bytes, and the client's encoder evicts down to it.
	exchange(t, c, s, 1, "/one")
	c.headers(t, 3, true, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/x", "x-long-name-aaaaaaaa", "value-bbbbbbbbbbbbbbbbbbbb")
	s.settings(t, http2.Setting{ID: http2.SettingHeaderTableSize, Val: 64})
	s.headers(t, 3, true, ":status", "200")
	f.feed(cli, c.take(), 0)
	f.feed(srv, s.take(), 0)
	c.enc.SetMaxDynamicTableSizeLimit(64)
	c.enc.SetMaxDynamicTableSize(64)
	for i := uint32(5); i < 15; i += 2 {
		c.headers(t, i, true, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", fmt.Sprintf("/n/%d", i), "x-k", fmt.Sprintf("v%d", i))
		s.headers(t, i, true, ":status", "200")
	}
	f.feed(cli, c.take(), 0)
	f.feed(srv, s.take(), 0)
	if len(f.got) != 7 {
		t.Fatalf("streams: %d, want 7", len(f.got))
	}
	for _, st := range f.got[2:] {
		if st.Request.Path != fmt.Sprintf("/n/%d", st.ID) || field(st.Request.Fields, "x-k") != fmt.Sprintf("v%d", st.ID) || st.Request.Unresolved != 0 {
			t.Errorf("after the size change, stream %d: %+v", st.ID, st.Request)
		}
	}
}

func TestGRPCTrailers(t *testing.T) {
	c, s := newWire(true), newWire(false)
	c.headers(t, 1, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/pkg.Greeter/SayHello", "content-type", "application/grpc", "te", "trailers")
	c.data(t, 1, true, 12)
	s.headers(t, 1, false, ":status", "200", "content-type", "application/grpc")
	s.data(t, 1, false, 20)
	s.headers(t, 1, true, "grpc-status", "5", "grpc-message", "no%20such%20user")
	f := newFollower(true)
	f.feed(cli, c.take(), 0)
	f.feed(srv, s.take(), 0)
	st := f.one(t)
	code, msg, ok := st.GRPCStatus()
	if !st.GRPC() || !ok || code != 5 || msg != "no such user" {
		t.Errorf("grpc: %v %d %q %v; trailers %+v", st.GRPC(), code, msg, ok, st.Response.Trailers)
	}
	if svc, m, ok := GRPCMethod(st.Request.Path); !ok || svc != "pkg.Greeter" || m != "SayHello" {
		t.Errorf("GRPCMethod: %q %q %v", svc, m, ok)
	}
	if field(st.Response.Fields, "grpc-status") != "" {
		t.Errorf("trailers mixed into the header fields: %+v", st.Response.Fields)
	}
}

func TestInterimResponse(t *testing.T) {
	c, s := newWire(true), newWire(false)
	c.headers(t, 1, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/up", "expect", "100-continue")
	s.headers(t, 1, false, ":status", "100")
	c.data(t, 1, true, 5)
	s.headers(t, 1, true, ":status", "200", "x-final", "1")
	f := newFollower(true)
	f.feed(cli, c.take(), 0)
	f.feed(srv, s.take(), 0)
	st := f.one(t)
	if st.Response.Status != 200 || field(st.Response.Fields, "x-final") != "1" || len(st.Response.Trailers) != 0 {
		t.Errorf("interim then final: %+v", st.Response)
	}
}

func TestResetStream(t *testing.T) {
	c, s := newWire(true), newWire(false)
	c.headers(t, 1, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/r")
	if err := c.fr.WriteRSTStream(1, http2.ErrCodeCancel); err != nil {
		t.Fatal(err)
	}
	f := newFollower(true)
	f.feed(cli, c.take(), 0)
	st := f.one(t)
	if !st.Reset || st.ResetCode != uint32(http2.ErrCodeCancel) || !st.Incomplete() {
		t.Errorf("reset: %+v", st)
	}
	_ = s
}

func TestPadding(t *testing.T) {
	c, s := newWire(true), newWire(false)
	blk := c.block(":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/pad")
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndStream: true, EndHeaders: true, PadLength: 17,
		Priority: http2.PriorityParam{StreamDep: 0, Weight: 15}}); err != nil {
		t.Fatal(err)
	}
	s.headers(t, 1, false, ":status", "200")
	if err := s.fr.WriteDataPadded(1, true, bytes.Repeat([]byte{'y'}, 30), make([]byte, 9)); err != nil {
		t.Fatal(err)
	}
	f := newFollower(true)
	f.feed(cli, c.take(), 3)
	f.feed(srv, s.take(), 3)
	st := f.one(t)
	if st.Request.Path != "/pad" || st.Response.BodyBytes != 30 || st.Request.Unresolved != 0 {
		t.Errorf("padded: %+v", st)
	}
}

// DATA bytes not captured are counted as body, no gap; lost ones are a gap.
func TestDataNotCapturedAndLost(t *testing.T) {
	for _, lost := range []bool{false, true} {
		c, s := newWire(true), newWire(false)
		exchange(t, c, s, 1, "/d")
		c2 := c.take()
		s.buf.Reset()
		s.headers(t, 1, false, ":status", "200")
		hb := s.take()
		s.data(t, 1, true, 5000)
		db := s.take()
		f := newFollower(true)
		f.feed(cli, c2, 0)
		f.feed(srv, hb, 0)
		f.feed(srv, db[:frameHeaderLen+100], 0)
		f.c.Skip(srv, uint64(len(db)-frameHeaderLen-100), lost, stream.Meta{})
		st := f.one(t)
		if st.Response.BodyBytes != 5000 || st.Response.Gap != lost || st.Incomplete() {
			t.Errorf("lost=%v: %+v", lost, st.Response)
		}
	}
}

func TestMaxStreams(t *testing.T) {
	c := newWire(true)
	for i := uint32(1); i < 10; i += 2 {
		c.headers(t, i, false, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", fmt.Sprintf("/%d", i))
	}
	f := newFollower(true)
	f.c.lim.MaxStreams = 2
	f.feed(cli, c.take(), 0)
	if f.stats.StreamsDropped != 3 || len(f.c.streams) != 2 {
		t.Errorf("dropped %d, open %d", f.stats.StreamsDropped, len(f.c.streams))
	}
	f.c.Close()
	if len(f.got) != 2 || f.got[0].ID != 1 || f.got[1].ID != 3 {
		t.Errorf("closed: %+v", f.got)
	}
}

// Trailers already in flight when the client reset the stream do not open
// it again: the stream is logged once.
func TestTrailersAfterReset(t *testing.T) {
	c, s := newWire(true), newWire(false)
	c.headers(t, 1, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/pkg.S/Watch", "content-type", "application/grpc")
	if err := c.fr.WriteRSTStream(1, http2.ErrCodeCancel); err != nil {
		t.Fatal(err)
	}
	s.headers(t, 1, false, ":status", "200", "content-type", "application/grpc")
	s.headers(t, 1, true, "grpc-status", "1", "grpc-message", "cancelled")
	f := newFollower(true)
	f.feed(cli, c.take(), 0)
	f.feed(srv, s.take(), 0)
	f.c.Close()
	st := f.one(t)
	if !st.Reset || st.Request.Path != "/pkg.S/Watch" || f.stats.ClosedAnswers != 2 {
		t.Errorf("the reset stream: %+v; closed answers %d, want its 2 header blocks", st, f.stats.ClosedAnswers)
	}
}

// A header block whose stream the other direction ended while its
// CONTINUATION was still to come writes into no other stream.
func TestBlockOfEndedStream(t *testing.T) {
	c, s := newWire(true), newWire(false)
	blk := s.block(":status", "200", "x-a", "1", "x-b", "2")
	c.headers(t, 1, false, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/one")
	f := newFollower(true)
	f.feed(cli, c.take(), 0)
	if err := s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:3]}); err != nil {
		t.Fatal(err)
	}
	f.feed(srv, s.take(), 0)
	if err := c.fr.WriteRSTStream(1, http2.ErrCodeCancel); err != nil {
		t.Fatal(err)
	}
	c.headers(t, 3, true, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/three")
	f.feed(cli, c.take(), 0)
	if err := s.fr.WriteContinuation(1, true, blk[3:]); err != nil {
		t.Fatal(err)
	}
	f.feed(srv, s.take(), 0)
	f.c.Close()
	if len(f.got) != 2 {
		t.Fatalf("streams: %+v", f.got)
	}
	three := f.got[1]
	if three.ID != 3 || three.Response.Headers || three.Response.Status != 0 || len(three.Response.Fields) != 0 {
		t.Errorf("stream 3 took stream 1's block: %+v", three.Response)
	}
}

// The fields kept past the size limit are those before it, none after.
func TestHeaderLimitKeepsAPrefix(t *testing.T) {
	c := newWire(true)
	c.headers(t, 1, true, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/l",
		"x-a", "1", "x-big", strings.Repeat("b", 300), "x-c", "3")
	f := newFollower(true)
	f.c.lim.MaxHeaderBytes = 100
	f.feed(cli, c.take(), 0)
	f.c.Close()
	st := f.one(t)
	if !st.Request.Truncated || len(st.Request.Fields) != 1 || st.Request.Fields[0].Name != "x-a" {
		t.Errorf("fields kept: %+v", st.Request)
	}
}

// A server's GOAWAY ends the streams past its last stream id, with its
// error code; the ones up to it go on.
func TestGoAway(t *testing.T) {
	c, s := newWire(true), newWire(false)
	for _, id := range []uint32{1, 3, 5} {
		c.headers(t, id, true, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", fmt.Sprintf("/%d", id))
	}
	if err := s.fr.WriteGoAway(3, http2.ErrCodeRefusedStream, []byte("going away, with some debug data")); err != nil {
		t.Fatal(err)
	}
	f := newFollower(true)
	f.feed(cli, c.take(), 0)
	f.feed(srv, s.take(), 0)
	if len(f.got) != 1 || f.got[0].ID != 5 || !f.got[0].GoAway || f.got[0].GoAwayCode != uint32(http2.ErrCodeRefusedStream) || f.got[0].Reset {
		t.Fatalf("after GOAWAY(3): %+v", f.got)
	}
	s.headers(t, 3, true, ":status", "200")
	f.feed(srv, s.take(), 0)
	if len(f.got) != 2 || f.got[1].ID != 3 || f.got[1].GoAway || f.got[1].Response.Status != 200 {
		t.Errorf("stream 3 after GOAWAY(3): %+v", f.got)
	}
	// A stream the client opened while the GOAWAY was in flight ends as
	// its header block does.
	c.headers(t, 7, false, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/7")
	f.feed(cli, c.take(), 0)
	if len(f.got) != 3 || f.got[2].ID != 7 || !f.got[2].GoAway || f.got[2].Request.Path != "/7" {
		t.Errorf("stream 7 opened after GOAWAY(3): %+v", f.got)
	}
}
