// Table-driven tests of the incremental parser: framing, chunking, gaps.
package httpparse

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

// got is what a test sees of one completed message.
type got struct {
	first              string // method or status
	target             string
	wire, body         uint64
	cut, gap, trunc    bool
	ambiguous          bool
	fields             int
	capturedBodyPrefix string
}

// feeder drives a parser the way the exchange stage does.
type feeder struct {
	p       Parser
	answers []MethodKind // kinds of the requests responses answer, in order
	msgs    []got
	desyncs int
	heads   int
}

func newFeeder(lim Limits, adopted bool, want Want, answers ...MethodKind) *feeder {
	f := &feeder{answers: answers}
	f.p.Reset(lim, adopted)
	f.p.Want = want
	return f
}

func (f *feeder) handle(ev Event) {
	switch ev {
	case Head:
		f.heads++
	case End:
		m := f.p.Msg()
		g := got{wire: m.WireBytes, body: m.BodyBytes, cut: m.Cut, gap: m.Gap, trunc: m.Truncated, ambiguous: m.Ambiguous,
			fields: len(m.Fields), capturedBodyPrefix: string(m.Body)}
		if m.Request {
			g.first, g.target = string(m.Bytes(m.Method)), string(m.Bytes(m.Target))
		} else {
			g.first = fmt.Sprint(m.Status)
			if m.Status >= 200 && len(f.answers) > 0 {
				f.answers = f.answers[1:]
			}
		}
		f.msgs = append(f.msgs, g)
	case Desync:
		f.desyncs++
	}
}

func (f *feeder) setAnswers() {
	f.p.Answers = MethodOther
	if len(f.answers) > 0 {
		f.p.Answers = f.answers[0]
	}
}

func (f *feeder) feed(b []byte) {
	for {
		f.setAnswers()
		n, ev := f.p.Feed(b)
		b = b[n:]
		if ev == None {
			return
		}
		f.handle(ev)
	}
}

func (f *feeder) skip(n uint64, lost bool) {
	for {
		k, ev := f.p.Skip(n, lost)
		n -= k
		if ev == None && n == 0 {
			return
		}
		f.handle(ev)
	}
}

func (f *feeder) close() {
	for ev := f.p.Close(); ev != None; ev = f.p.Close() {
		f.handle(ev)
	}
}

func firsts(msgs []got) string {
	s := make([]string, len(msgs))
	for i, m := range msgs {
		s[i] = m.first
		if m.cut {
			s[i] += "!cut"
		}
		if m.gap {
			s[i] += "!gap"
		}
		if m.trunc {
			s[i] += "!trunc"
		}
	}
	return strings.Join(s, ",")
}

var lim = Limits{MaxHeaderBytes: 16 << 10}

const (
	reqGet  = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
	reqPost = "POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
	resp200 = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	resp404 = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
	chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"5;name=val\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n"
)

func TestParserMessages(t *testing.T) {
	big := "GET /big HTTP/1.1\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 100)+"\r\n", 120) + "\r\n"
	huge := "GET /huge HTTP/1.1\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 100)+"\r\n", 200) + "Content-Length: 3\r\n\r\nabc"
	cases := []struct {
		name    string
		in      string
		want    Want
		answers []MethodKind
		close   bool
		expect  string
		wire    []uint64 // checked when set
		body    []uint64
		fields  []int
		desyncs int
	}{
		{name: "pipelined requests", in: reqGet + reqPost + reqGet, expect: "GET,POST,GET", wire: []uint64{uint64(len(reqGet)), uint64(len(reqPost)), uint64(len(reqGet))}, body: []uint64{0, 5, 0}},
		{name: "pipelined responses", in: resp200 + resp404 + resp200, expect: "200,404,200", wire: []uint64{uint64(len(resp200)), uint64(len(resp404)), uint64(len(resp200))}},
		{name: "chunked with extensions and trailers", in: chunked + resp404, expect: "200,404", wire: []uint64{uint64(len(chunked)), uint64(len(resp404))}, body: []uint64{11, 0}},
		{name: "HEAD response has no body", in: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + resp404, answers: []MethodKind{MethodHead, MethodOther}, expect: "200,404", body: []uint64{0, 0}},
		{name: "100 continue then final", in: "HTTP/1.1 100 Continue\r\n\r\n" + resp200, expect: "100,200"},
		{name: "204 and 304 have no body", in: "HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n" + resp200, expect: "204,304,200"},
		{name: "read until close", in: "HTTP/1.0 200 OK\r\n\r\nall of this is body", close: true, expect: "200", body: []uint64{19}},
		{name: "connection close with length", in: "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", expect: "200"},
		{name: "101 stops parsing", in: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n" + resp200, expect: "101"},
		{name: "CONNECT 200 stops parsing", in: "HTTP/1.1 200 Connection established\r\n\r\n" + resp200, answers: []MethodKind{MethodConnect}, expect: "200"},
		{name: "CONNECT refused keeps parsing", in: "HTTP/1.1 407 Proxy Auth\r\nContent-Length: 0\r\n\r\n" + resp200, answers: []MethodKind{MethodConnect}, expect: "407,200"},
		{name: "request CONNECT holds", in: "CONNECT h:443 HTTP/1.1\r\nHost: h\r\n\r\n\x16\x03\x01 tls", expect: "CONNECT"},
		{name: "12 KiB header kept whole", in: big + reqGet, expect: "GET,GET", fields: []int{120, 1}},
		{name: "header over the limit truncated, next parsed", in: huge + reqGet, expect: "GET!trunc,GET", body: []uint64{3, 0}},
		{name: "stray line ends between messages", in: reqGet + "\r\n" + reqGet, expect: "GET,GET"},
		{name: "want requests ignores responses", in: resp200, want: Requests, expect: "", desyncs: 1},
		{name: "bad content length cuts", in: "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n" + reqGet, expect: "GET!cut,GET", desyncs: 1},
		{name: "garbage in sync desyncs then resyncs", in: "hello world\r\n" + reqGet, expect: "GET", desyncs: 1},
		{name: "bare LF line ends", in: "GET /lf HTTP/1.1\nHost: h\n\n", expect: "GET"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFeeder(lim, false, c.want, c.answers...)
			f.feed([]byte(c.in))
			if c.close {
				f.close()
			}
			if got := firsts(f.msgs); got != c.expect {
				t.Fatalf("messages %q, want %q (%v)", got, c.expect, f.msgs)
			}
			for i, w := range c.wire {
				if f.msgs[i].wire != w {
					t.Errorf("message %d: %d wire bytes, want %d", i, f.msgs[i].wire, w)
				}
			}
			for i, w := range c.body {
				if f.msgs[i].body != w {
					t.Errorf("message %d: %d body bytes, want %d", i, f.msgs[i].body, w)
				}
			}
			for i, w := range c.fields {
				if f.msgs[i].fields != w {
					t.Errorf("message %d: %d fields, want %d", i, f.msgs[i].fields, w)
				}
			}
			if f.desyncs != c.desyncs {
				t.Errorf("%d desyncs, want %d", f.desyncs, c.desyncs)
			}
		})
	}
}

// TestParserEverySplit feeds messages split at every byte boundary, in two
// pieces, and byte by byte; the result must not depend on the split.
func TestParserEverySplit(t *testing.T) {
	for _, in := range []string{reqGet + reqPost, resp200 + chunked + resp404} {
		whole := newFeeder(lim, false, Any)
		whole.feed([]byte(in))
		want := fmt.Sprint(whole.msgs)
		if len(whole.msgs) < 2 {
			t.Fatalf("whole input gave %v", whole.msgs)
		}
		for i := 0; i <= len(in); i++ {
			f := newFeeder(lim, false, Any)
			f.feed([]byte(in[:i]))
			f.feed([]byte(in[i:]))
			if got := fmt.Sprint(f.msgs); got != want {
				t.Fatalf("split at %d: %s, want %s", i, got, want)
			}
		}
		f := newFeeder(lim, false, Any)
		for i := range len(in) {
			f.feed([]byte{in[i]})
		}
		if got := fmt.Sprint(f.msgs); got != want {
			t.Fatalf("byte by byte: %s, want %s", got, want)
		}
	}
}

func TestParserBodyCapture(t *testing.T) {
	f := newFeeder(Limits{MaxHeaderBytes: 1024, CaptureBodyBytes: 3}, false, Any)
	f.feed([]byte(reqPost))
	if len(f.msgs) != 1 || f.msgs[0].capturedBodyPrefix != "hel" {
		t.Fatalf("captured %v, want body prefix hel", f.msgs)
	}
}

func TestParserGaps(t *testing.T) {
	post := "POST /p HTTP/1.1\r\nContent-Length: 100\r\n\r\n"
	cases := []struct {
		name    string
		steps   func(f *feeder)
		adopted bool
		expect  string
		desyncs int
	}{
		{name: "gap inside a known body only counts", steps: func(f *feeder) {
			f.feed([]byte(post + strings.Repeat("a", 10)))
			f.skip(80, true)
			f.feed([]byte(strings.Repeat("b", 10) + reqGet))
		}, expect: "POST!gap,GET"},
		{name: "uncaptured body bytes are not a gap", steps: func(f *feeder) {
			f.feed([]byte(post))
			f.skip(100, false)
			f.feed([]byte(reqGet))
		}, expect: "POST,GET"},
		{name: "gap running past the body end", steps: func(f *feeder) {
			f.feed([]byte(post))
			f.skip(150, true)
			f.feed([]byte("ue\r\n\r\n" + reqGet))
		}, expect: "POST!gap,GET", desyncs: 1},
		{name: "gap inside headers cuts and resyncs", steps: func(f *feeder) {
			f.feed([]byte("GET /one HTTP/1.1\r\nHost: a\r\nX-Lo"))
			f.skip(40, true)
			f.feed([]byte("ng: y\r\n\r\n" + reqGet))
		}, expect: "GET!cut!gap!trunc,GET", desyncs: 1},
		{name: "gap inside chunk framing cuts", steps: func(f *feeder) {
			f.feed([]byte("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"))
			f.skip(20, true)
			f.feed([]byte("garbage\r\n0\r\n\r\n" + resp404))
		}, expect: "200!cut!gap,404", desyncs: 1},
		{name: "gap between messages", steps: func(f *feeder) {
			f.feed([]byte(reqGet))
			f.skip(30, true)
			f.feed([]byte(reqGet))
		}, expect: "GET,GET", desyncs: 1},
		{name: "adopted mid-body resyncs at the next request", adopted: true, steps: func(f *feeder) {
			f.feed([]byte("dy bytes\r\nmore GET / HTTP/1.1 body\r\n" + reqGet))
		}, expect: "GET"},
		{name: "read-until-close body with gap", steps: func(f *feeder) {
			f.feed([]byte("HTTP/1.0 200 OK\r\n\r\nab"))
			f.skip(10, true)
			f.feed([]byte("cd"))
			f.close()
		}, expect: "200!gap"},
		{name: "close inside headers cuts", steps: func(f *feeder) {
			f.feed([]byte("GET / HTTP/1.1\r\nHost"))
			f.close()
		}, expect: "GET!cut!trunc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFeeder(lim, c.adopted, Any)
			c.steps(f)
			if got := firsts(f.msgs); got != c.expect {
				t.Fatalf("messages %q, want %q", got, c.expect)
			}
			if f.desyncs != c.desyncs {
				t.Errorf("%d desyncs, want %d", f.desyncs, c.desyncs)
			}
		})
	}
}

// TestParserRandomBytes checks that random bytes, in random chunks, with
// and without gaps, never yield a message.
func TestParserRandomBytes(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	buf := make([]byte, 1<<16)
	for round := range 50 {
		r.Read(buf)
		if round%2 == 1 { // printable noise with line ends is closer to text
			for i := range buf {
				buf[i] = " \r\nAGHPT/1.:0E"[buf[i]%14]
			}
		}
		f := newFeeder(lim, round%3 == 0, Any)
		for b := buf; len(b) > 0; {
			n := min(len(b), 1+r.Intn(3000))
			f.feed(b[:n])
			b = b[n:]
			if r.Intn(10) == 0 {
				f.skip(uint64(r.Intn(100)), true)
			}
		}
		f.close()
		if len(f.msgs) != 0 || f.heads != 0 {
			t.Fatalf("round %d: random bytes gave %v", round, f.msgs)
		}
	}
}

// TestSniffBody: with SniffBody, a response whose announced body starts
// with a status line ends there (it answered a bodiless request the caller
// did not know of); a body that does not, and any body without SniffBody,
// is read as announced.
func TestSniffBody(t *testing.T) {
	headLike := "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n"
	for _, tc := range []struct {
		sniff bool
		in    string
		want  string
	}{
		{true, headLike + resp200, "200,200"},
		{true, headLike + strings.Repeat("b", 40) + resp404, "200,404"},
		{false, headLike + resp200 + strings.Repeat("b", 40-len(resp200)) + resp404, "200,404"},
	} {
		f := newFeeder(lim, false, Responses)
		f.p.SniffBody = tc.sniff
		f.feed([]byte(tc.in))
		if got := firsts(f.msgs); got != tc.want {
			t.Errorf("sniff %v: messages %s, want %s", tc.sniff, got, tc.want)
		}
		if tc.sniff && len(f.msgs) > 0 && strings.HasPrefix(tc.in[len(headLike):], "HTTP/1.") && f.msgs[0].body != 0 {
			t.Errorf("sniffed response has %d body bytes", f.msgs[0].body)
		}
	}
}

// TestAmbiguousFraming: messages whose framing headers could be read more
// than one way are framed as RFC 9112 section 6.3 says and flagged, and a
// list of identical Content-Length values is one value.
func TestAmbiguousFraming(t *testing.T) {
	for _, tc := range []struct {
		name, in  string
		want      Want
		firsts    string
		ambiguous bool
		body      uint64
	}{
		{"CL and TE: chunked wins", "POST /p HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + reqGet,
			Requests, "POST,GET", true, 5},
		{"TE in HTTP/1.0 request: faulty, cut", "POST /p HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
			Requests, "POST!cut", true, 0},
		{"TE in HTTP/1.0 response: to the close", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nok and more",
			Responses, "200", true, 11},
		{"folded Transfer-Encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,\r\n chunked\r\nContent-Length: 2\r\n\r\nok",
			Responses, "200", true, 2},
		{"folded other header", "HTTP/1.1 200 OK\r\nX-Long: a,\r\n b\r\nContent-Length: 2\r\n\r\nok",
			Responses, "200", false, 2},
		{"identical Content-Length list", "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok" + resp404,
			Responses, "200,404", false, 2},
		{"different Content-Length list", "HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nok",
			Responses, "200!cut", false, 0},
	} {
		f := newFeeder(lim, false, tc.want)
		f.feed([]byte(tc.in))
		f.close()
		if got := firsts(f.msgs); got != tc.firsts {
			t.Errorf("%s: messages %s, want %s", tc.name, got, tc.firsts)
			continue
		}
		if f.msgs[0].ambiguous != tc.ambiguous {
			t.Errorf("%s: ambiguous %v, want %v", tc.name, f.msgs[0].ambiguous, tc.ambiguous)
		}
		for _, m := range f.msgs[1:] {
			if m.ambiguous {
				t.Errorf("%s: the message after the ambiguous one is flagged too", tc.name)
			}
		}
		if f.msgs[0].body != tc.body {
			t.Errorf("%s: first body %d bytes, want %d", tc.name, f.msgs[0].body, tc.body)
		}
	}
}

// An Upgrade header that lists h2c marks the message (the request asking
// for HTTP/2 without TLS, and the 101 granting it); another protocol does not.
func TestUpgradeH2C(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Want
		h2c  bool
	}{
		{"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: h2c\r\n\r\n", Requests, true},
		{"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket, H2C \r\n\r\n", Requests, true},
		{"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nUpgrade: h2c\r\n\r\n", Requests, true},
		{"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n", Requests, false},
		{"GET / HTTP/1.1\r\nHost: h\r\nX-Upgrade: h2c\r\n\r\n", Requests, false},
		{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", Responses, true},
		{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", Responses, false},
	} {
		var p Parser
		p.Reset(Limits{MaxHeaderBytes: 4096}, false)
		p.Want = tc.want
		b := []byte(tc.in)
		for len(b) > 0 {
			n, ev := p.Feed(b)
			b = b[n:]
			if ev == Head || ev == End || ev == None {
				break
			}
		}
		if m := p.Msg(); m.UpgradeH2C != tc.h2c {
			t.Errorf("%q: UpgradeH2C %v, want %v", tc.in, m.UpgradeH2C, tc.h2c)
		}
	}
}
