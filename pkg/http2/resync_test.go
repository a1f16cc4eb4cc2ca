package http2

import (
	"testing"

	"github.com/httptrace/httptrace/pkg/stream"
)

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

// framingLost is a gRPC call on stream 1 whose answer's first 1024 bytes
// are seen and the rest not captured: the trailers' frame header goes, and
// the server's direction loses its framing. It returns the client's and
// server's wires, the follower, and the call's request fields.
func framingLost(t *testing.T) (c, s *wire, f *follower, grpc []string) {
	t.Helper()
	c, s = newWire(true), newWire(false)
	grpc = []string{":method", "POST", ":scheme", "http", ":authority", "a", "content-type", "application/grpc"}
	c.headers(t, 1, true, append(grpc, ":path", "/pkg.S/Big")...)
	f = newFollower(true)
	f.feed(cli, c.take(), 0)
	s.headers(t, 1, false, ":status", "200", "content-type", "application/grpc")
	s.data(t, 1, false, 3000)
	s.headers(t, 1, true, "grpc-status", "0")
	w := s.take()
	f.feed(srv, w[:1024], 0)
	f.c.Skip(srv, uint64(len(w)-1024), false, stream.Meta{})
	return c, s, f, grpc
}

// A response written as one call, HEADERS, a DATA frame past what was
// captured and the trailers, loses the framing at the trailers; the next
// call begins with a frame again and is read from there, its header block
// decoded with the table unknown.
func TestResyncAtNextCall(t *testing.T) {
	c, s, f, grpc := framingLost(t)
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

// Frames lost to a loss of framing make the message counts of the streams
// open then unknown.
func TestLostFramingMessagesUnknown(t *testing.T) {
	c := newWire(true)
	c.headers(t, 1, false, ":method", "POST", ":scheme", "http", ":authority", "a", ":path", "/pkg.S/Up", "content-type", "application/grpc")
	c.data(t, 1, false, 0)
	f := newFollower(true)
	f.feed(cli, c.take(), 0)
	f.c.Skip(cli, 4, true, stream.Meta{})
	c.data(t, 1, true, 0)
	f.feed(cli, c.take(), 0)
	f.c.Close()
	st := f.one(t)
	if got := st.Request.GRPCMessages(); got != -1 {
		t.Errorf("messages %d after frames were lost, want -1 (not known)", got)
	}
}

// A client direction that does not begin with the preface where one was
// expected (bytes taken for it were something else) loses the framing
// rather than reading 24 bytes of frames as the preface.
func TestPrefaceChecked(t *testing.T) {
	c := newWire(false)
	c.headers(t, 1, true, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/p")
	f := newFollower(true)
	f.feed(cli, c.take(), 0)
	if f.stats.FramingLost != 1 || len(f.c.streams) != 0 {
		t.Errorf("stats %+v, %d streams open", f.stats, len(f.c.streams))
	}
}

// A connection joined mid-way whose side is known: a direction that
// carries only DATA of streams opened before (a quiet server stream
// resumed) is still read from its first call that begins with frames.
func TestJoinedDataOnly(t *testing.T) {
	c, s := newWire(false), newWire(false)
	s.data(t, 7, false, 30)
	f := newFollower(false)
	f.feed(srv, s.take(), 0)
	if f.c.dirs[srv].r.dead {
		t.Fatal("a call of DATA on a stream opened before the join was not taken as frames")
	}
	c.headers(t, 9, true, ":method", "GET", ":scheme", "http", ":authority", "a", ":path", "/nine")
	f.feed(cli, c.take(), 0)
	s.headers(t, 9, true, ":status", "200")
	f.feed(srv, s.take(), 0)
	if f.c.dirs[srv].r.dead || len(f.got) != 1 || f.got[0].Response.Status != 200 {
		t.Errorf("server direction dead %v, streams %+v", f.c.dirs[srv].r.dead, f.got)
	}
}

// A call of an HTTP/2 connection comes as several records, each but the
// first marked Cont: framing lost, a later record of one call is not a
// place to start again even when its bytes read as frames; the next call
// is.
func TestNoResyncInsideACall(t *testing.T) {
	c, s, f, grpc := framingLost(t)
	c.headers(t, 3, true, append(grpc, ":path", "/pkg.S/Three")...)
	c.headers(t, 5, true, append(grpc, ":path", "/pkg.S/Five")...)
	f.feed(cli, c.take(), 0)
	// The answer to 3 begins a record that continues a call: no resync.
	s.headers(t, 3, true, ":status", "200", "x-three", "3")
	f.c.Feed(srv, s.take(), stream.Meta{At: 100, Cont: true})
	if f.stats.FramingLost != 1 || f.stats.Resyncs != 0 {
		t.Fatalf("after a continuation record: stats %+v", f.stats)
	}
	// The answer to 5 begins a call: the direction is read again.
	s.headers(t, 5, true, ":status", "200", "x-five", "5")
	f.c.Feed(srv, s.take(), stream.Meta{At: 101})
	f.c.Close()
	if f.stats.Resyncs != 1 || len(f.got) != 3 {
		t.Fatalf("at the next call: streams %+v stats %+v", f.got, f.stats)
	}
	for _, st := range f.got {
		if done := st.ID == 5; done == st.Incomplete() || (done && field(st.Response.Fields, "x-five") != "5") {
			t.Errorf("stream %d: %+v", st.ID, st)
		}
	}
}
