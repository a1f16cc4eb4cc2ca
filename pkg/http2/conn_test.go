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

// A connection joined mid-way: fields that name dynamic-table entries
// added before are unresolved, never taken for others; static-table and
// literal fields decode.
func TestJoinedLate(t *testing.T) {
	c, s := newWire(true), newWire(false)
	exchange(t, c, s, 1, "/before") // fills both tables; not seen
	c.take()
	s.take()
	exchange(t, c, s, 3, "/after")
	f := newFollower(false)
	f.feed(cli, c.take(), 0)
	f.feed(srv, s.take(), 0)
	st := f.one(t)
	if st.Request.Path != "/after" || st.Request.Method != "GET" {
		t.Errorf("literal and static fields: %+v", st.Request)
	}
	if st.Request.Unresolved == 0 || field(st.Request.Fields, "user-agent") != "" {
		t.Errorf("the indexed user-agent from before: %+v (unresolved %d)", st.Request.Fields, st.Request.Unresolved)
	}
	if st.Request.Authority != "" && st.Request.Authority != "example.test" {
		t.Errorf("authority taken for another entry: %q", st.Request.Authority)
	}
}

// Bytes lost inside a header block leave the table unknown: the next block
// that names an entry from before is unresolved, not wrong.
func TestLostHeaderBlock(t *testing.T) {
	c, s := newWire(true), newWire(false)
	c.settings(t)
	pre := c.take()
	exchange(t, c, s, 1, "/lost")
	one, sone := c.take(), s.take()
	exchange(t, c, s, 3, "/next")
	two, stwo := c.take(), s.take()
	f := newFollower(true)
	f.feed(cli, pre, 0)
	f.feed(cli, one[:frameHeaderLen+3], 0)
	f.c.Skip(cli, uint64(len(one)-frameHeaderLen-3), true, stream.Meta{})
	f.feed(srv, sone, 0)
	f.feed(cli, two, 0)
	f.feed(srv, stwo, 0)
	if len(f.got) != 2 {
		t.Fatalf("streams: %d, want 2: %+v", len(f.got), f.got)
	}
	first, next := f.got[0], f.got[1]
	if !first.Request.Gap || first.Request.Unresolved == 0 || first.Response.Status != 200 {
		t.Errorf("the stream with the lost block: %+v", first)
	}
	if next.Request.Path != "/next" || next.Request.Unresolved == 0 || field(next.Request.Fields, "user-agent") != "" {
		t.Errorf("the next stream names entries from the lost block: %+v", next.Request)
	}
	if f.stats.FramingLost != 0 {
		t.Errorf("framing lost: %d; the lost bytes were inside one frame", f.stats.FramingLost)
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

// Bytes lost across a frame header lose the framing: the streams open then
// are flagged, and end at the close.
func TestFramingLost(t *testing.T) {
	c, s := newWire(true), newWire(false)
	c.headers(t, 1, true, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/f")
	f := newFollower(true)
	f.feed(cli, c.take(), 0)
	f.c.Skip(srv, 3, true, stream.Meta{})
	f.feed(srv, []byte("xyzxyzxyzxyz"), 0) // not frames: still lost
	f.c.Close()
	st := f.one(t)
	if f.stats.FramingLost != 1 || f.stats.Resyncs != 0 || !st.Response.Gap || !st.Incomplete() || st.Request.Path != "/f" {
		t.Errorf("framing lost: %+v stats %+v", st, f.stats)
	}
	_ = s
}

// A response written as one call, HEADERS, a DATA frame past what was
// captured and the trailers, loses the framing at the trailers; the next
// call begins with a frame again and is read from there, its header block
// decoded with the table unknown.
func TestResyncAtNextCall(t *testing.T) {
	c, s := newWire(true), newWire(false)
	grpc := []string{":method", "POST", ":scheme", "http", ":authority", "a", "content-type", "application/grpc"}
	c.headers(t, 1, true, append(grpc, ":path", "/pkg.S/Big")...)
	f := newFollower(true)
	f.feed(cli, c.take(), 0)
	s.headers(t, 1, false, ":status", "200", "content-type", "application/grpc")
	s.data(t, 1, false, 3000)
	s.headers(t, 1, true, "grpc-status", "0")
	w := s.take()
	f.feed(srv, w[:1024], 0)
	f.c.Skip(srv, uint64(len(w)-1024), false, stream.Meta{})
	c.headers(t, 3, true, append(grpc, ":path", "/pkg.S/Small")...)
	f.feed(cli, c.take(), 0)
	s.headers(t, 3, false, ":status", "200", "content-type", "application/grpc", "x-new", "1")
	s.data(t, 3, false, 10)
	s.headers(t, 3, true, "grpc-status", "0")
	f.feed(srv, s.take(), 0)
	f.c.Close()
	if len(f.got) != 2 || f.stats.FramingLost != 1 || f.stats.Resyncs != 1 {
		t.Fatalf("streams %+v stats %+v", f.got, f.stats)
	}
	small, big := f.got[0], f.got[1]
	if small.ID != 3 || small.Incomplete() || small.Response.Gap || small.Response.BodyBytes != 10 {
		t.Errorf("the stream after the resync: %+v", small)
	}
	// Its content-type and grpc-status name entries the lost call added:
	// unresolved, not guessed; its literal field and :status decode.
	if _, _, ok := small.GRPCStatus(); ok || small.Response.Unresolved != 2 ||
		field(small.Response.Fields, "x-new") != "1" || small.Response.Status != 200 {
		t.Errorf("its fields: %+v", small.Response)
	}
	if big.ID != 1 || !big.Incomplete() || !big.Response.Gap {
		t.Errorf("the stream whose trailers were lost: %+v", big)
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
	if !st.Reset || st.Request.Path != "/pkg.S/Watch" {
		t.Errorf("the reset stream: %+v", st)
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

// Joined mid-way with no side known: the first block that decodes a
// :status or a :method tells which direction is the client's.
func TestRolesLearned(t *testing.T) {
	c, s := newWire(false), newWire(false)
	f := newFollower(false)
	f.c.Reset(-1, false)
	s.data(t, 3, false, 5) // a stream's body before any block: passed over
	s.headers(t, 5, false, ":status", "200", "x-s", "1")
	s.data(t, 5, true, 7)
	f.feed(srv, s.take(), 0)
	if f.c.Client() != cli {
		t.Fatalf("client direction %d after a response, want %d", f.c.Client(), cli)
	}
	exchange(t, c, s, 7, "/seven")
	f.feed(cli, c.take(), 0)
	f.feed(srv, s.take(), 0)
	f.c.Close()
	if len(f.got) != 2 {
		t.Fatalf("streams: %+v", f.got)
	}
	five, seven := f.got[0], f.got[1]
	if seven.ID != 7 || seven.Request.Path != "/seven" || seven.Response.Status != 200 || seven.Incomplete() {
		t.Errorf("stream 7: %+v", seven)
	}
	if five.ID != 5 || five.Request.Headers || five.Response.Status != 200 || five.Response.BodyBytes != 7 || field(five.Response.Fields, "x-s") != "1" {
		t.Errorf("stream 5 (its request before the tracer): %+v", five)
	}
}

func TestLooksLikeFrames(t *testing.T) {
	c := newWire(false)
	c.headers(t, 1, true, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/")
	c.data(t, 3, false, 20)
	frames := c.take()
	for _, tc := range []struct {
		b    string
		want bool
	}{
		{string(frames), true},
		{string(frames[:frameHeaderLen]), true},
		{string(frames[:5]), false},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", false},
		{"HTTP/1.1 200 OK\r\n\r\n", false},
		{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", false},                             // a TLS ClientHello
		{"\x00\x00\x04\x09\x04\x00\x00\x00\x01abcd", false},                                 // CONTINUATION first
		{"\x00\x00\x05\x03\x00\x00\x00\x00\x01abcde", false},                                // RST_STREAM of 5 bytes
		{"\x00\x00\x08\x06\x00\x00\x00\x00\x00abcdefgh", true},                              // PING
		{"\x00\x00\x08\x06\x00\x00\x00\x00\x01abcdefgh", false},                             // PING on a stream
		{"\x00\x00\x00\x04\x01\x00\x00\x00\x00\x00\x00\x01\x01\x02\x00\x00\x00\x01", false}, // a second frame of undefined flags
	} {
		if got := LooksLikeFrames([]byte(tc.b)); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.b, got, tc.want)
		}
	}
}

// Joined mid-way, the server answers streams opened before in any order:
// each is logged (unmatched), none taken for closed.
func TestJoinedAnswersOutOfOrder(t *testing.T) {
	s := newWire(false)
	s.headers(t, 5, true, ":status", "200")
	s.headers(t, 3, true, ":status", "201")
	f := newFollower(false)
	f.feed(srv, s.take(), 0)
	f.c.Close()
	if len(f.got) != 2 || f.got[0].Response.Status != 200 || f.got[1].Response.Status != 201 || f.stats.StreamsDropped != 0 {
		t.Errorf("streams %+v stats %+v", f.got, f.stats)
	}
}

// A resync on bytes that only looked like frames loses the framing again
// at the next header that the connection could not carry.
func TestResyncChecked(t *testing.T) {
	c := newWire(true)
	c.headers(t, 1, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/r")
	f := newFollower(true)
	f.feed(cli, c.take(), 0)
	f.c.Skip(cli, 4, true, stream.Meta{})
	// A PING-shaped header, then a frame of an undefined type.
	f.feed(cli, []byte("\x00\x00\x08\x06\x00\x00\x00\x00\x00abcdefgh"), 0)
	f.feed(cli, []byte("\x00\x00\x01\x0c\x00\x00\x00\x00\x01z"), 0)
	if f.stats.FramingLost != 2 || f.stats.Resyncs != 1 {
		t.Errorf("stats %+v", f.stats)
	}
}

// Streams that lost frames (their end among them) give way to new ones
// when the table is full.
func TestGapStreamsGiveWay(t *testing.T) {
	c := newWire(true)
	c.headers(t, 1, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/1")
	c.headers(t, 3, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/3")
	f := newFollower(true)
	f.c.lim.MaxStreams = 2
	f.feed(cli, c.take(), 0)
	f.c.Skip(cli, 4, true, stream.Meta{})
	c.headers(t, 5, true, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/5")
	f.feed(cli, c.take(), 0)
	if len(f.got) != 1 || f.got[0].ID != 1 || !f.got[0].Request.Gap || f.stats.StreamsDropped != 0 || f.c.streams[5] == nil {
		t.Errorf("streams %+v stats %+v", f.got, f.stats)
	}
}
