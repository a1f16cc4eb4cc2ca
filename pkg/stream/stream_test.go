// Tests of reassembly: order, holes, gaps, bounds and uncaptured spans.
package stream

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// checkSink rebuilds the stream and checks every byte against the source.
type checkSink struct {
	t      testing.TB
	src    []byte
	pos    uint64
	events []string
	lost   uint64
	notCap uint64
}

func (c *checkSink) Data(b []byte, m Meta) {
	end := c.pos + uint64(len(b))
	if end > uint64(len(c.src)) || !bytes.Equal(b, c.src[c.pos:end]) {
		c.t.Fatalf("data at %d: %q does not match the source", c.pos, b)
	}
	c.events = append(c.events, fmt.Sprintf("D%d+%d", c.pos, len(b)))
	c.pos = end
}

func (c *checkSink) Missing(n uint64, lost bool, m Meta) {
	kind := "N"
	if lost {
		kind = "L"
		c.lost += n
	} else {
		c.notCap += n
	}
	c.events = append(c.events, fmt.Sprintf("%s%d+%d", kind, c.pos, n))
	c.pos += n
}

// rec builds a piece of src: bytes [pos, pos+n), captured [pos+off, pos+off+capN).
func rec(src []byte, pos, n, off, capN int, at uint64) *Piece {
	return &Piece{Pos: uint64(pos), Bytes: uint32(n), CapturedOff: uint32(off), Data: src[pos+off : pos+off+capN], Meta: Meta{At: at}}
}

var testLimits = Limits{MaxBufferedBytes: 64, MaxPieces: 4, WindowNs: 100}

func TestStream(t *testing.T) {
	src := []byte(strings.Repeat("0123456789", 20))
	cases := []struct {
		name     string
		fromZero bool
		steps    func(s *Stream, k *checkSink)
		events   string
		gaps     uint64
		late     uint64
		forced   uint64
	}{
		{name: "in order", fromZero: true, steps: func(s *Stream, k *checkSink) {
			s.Push(rec(src, 0, 10, 0, 10, 1), k)
			s.Push(rec(src, 10, 5, 0, 5, 2), k)
		}, events: "D0+10 D10+5"},
		{name: "out of order fills", fromZero: true, steps: func(s *Stream, k *checkSink) {
			s.Push(rec(src, 10, 5, 0, 5, 1), k)
			s.Push(rec(src, 15, 5, 0, 5, 1), k)
			s.Push(rec(src, 0, 10, 0, 10, 2), k)
		}, events: "D0+10 D10+5 D15+5"},
		{name: "hole expires into a gap", fromZero: true, steps: func(s *Stream, k *checkSink) {
			s.Push(rec(src, 0, 10, 0, 10, 1), k)
			s.Push(rec(src, 20, 5, 0, 5, 50), k)
			s.Expire(149, k)
			s.Expire(150, k)
			s.Push(rec(src, 10, 10, 0, 10, 160), k) // too late
		}, events: "D0+10 L10+10 D20+5", gaps: 1, late: 1},
		{name: "uncaptured head and tail", fromZero: true, steps: func(s *Stream, k *checkSink) {
			s.Push(rec(src, 0, 20, 5, 10, 1), k)
		}, events: "N0+5 D5+10 N15+5"},
		{name: "overlap is trimmed", fromZero: true, steps: func(s *Stream, k *checkSink) {
			s.Push(rec(src, 0, 10, 0, 10, 1), k)
			s.Push(rec(src, 5, 10, 0, 10, 2), k)
			s.Push(rec(src, 12, 10, 4, 2, 3), k)
		}, events: "D0+10 D10+5 N15+1 D16+2 N18+4"},
		{name: "adopted starts at its first piece", steps: func(s *Stream, k *checkSink) {
			k.pos = 30
			s.Push(rec(src, 30, 10, 0, 10, 1), k)
		}, events: "D30+10"},
		{name: "stream start lost", fromZero: true, steps: func(s *Stream, k *checkSink) {
			s.Push(rec(src, 8, 2, 0, 2, 1), k)
			s.Flush(k)
		}, events: "L0+8 D8+2", gaps: 1},
		{name: "piece bound forces the hole", fromZero: true, steps: func(s *Stream, k *checkSink) {
			for i := 1; i <= 5; i++ {
				s.Push(rec(src, i*10, 10, 0, 1, 1), k)
			}
		}, events: "L0+10 D10+1 N11+9 D20+1 N21+9 D30+1 N31+9 D40+1 N41+9 D50+1 N51+9", gaps: 1, forced: 1},
		{name: "byte bound forces the hole", fromZero: true, steps: func(s *Stream, k *checkSink) {
			s.Push(rec(src, 10, 40, 0, 40, 1), k)
			s.Push(rec(src, 60, 40, 0, 40, 1), k)
		}, events: "L0+10 D10+40", gaps: 1, forced: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var s Stream
			s.Reset(testLimits, c.fromZero)
			k := &checkSink{t: t, src: src}
			c.steps(&s, k)
			if got := strings.Join(k.events, " "); got != c.events {
				t.Fatalf("events %q, want %q", got, c.events)
			}
			if s.Gaps != c.gaps || s.Late != c.late || s.Forced != c.forced {
				t.Errorf("gaps %d late %d forced %d, want %d %d %d", s.Gaps, s.Late, s.Forced, c.gaps, c.late, c.forced)
			}
			if k.pos != s.Next() {
				t.Errorf("sink at %d, stream at %d", k.pos, s.Next())
			}
		})
	}
}

// TestUnseen passes bytes the socket moved with no record on as not
// captured, counts them apart from the capture limit's, and lets the piece
// after them through at once (no hole waits for them).
func TestUnseen(t *testing.T) {
	src := []byte(strings.Repeat("0123456789", 20))
	var s Stream
	s.Reset(testLimits, true)
	k := &checkSink{t: t, src: src}
	s.Push(rec(src, 0, 10, 0, 10, 1), k)
	s.Push(&Piece{Pos: 10, Bytes: 30, Unseen: true, Data: src[10:20], Meta: Meta{At: 2}}, k)
	s.Push(rec(src, 40, 10, 0, 4, 3), k)
	if got, want := strings.Join(k.events, " "), "D0+10 N10+30 D40+4 N44+6"; got != want {
		t.Errorf("events %q, want %q", got, want)
	}
	if s.Unseen != 30 || s.NotCaptured != 6 || s.Gaps != 0 || s.Waiting() {
		t.Errorf("unseen %d, not captured %d, gaps %d, waiting %v", s.Unseen, s.NotCaptured, s.Gaps, s.Waiting())
	}
}

// TestResetAt resumes a stream at a known position: bytes from there on
// pass, bytes before it are late, and nothing before it is a gap.
func TestResetAt(t *testing.T) {
	src := []byte(strings.Repeat("0123456789", 20))
	var s Stream
	s.ResetAt(testLimits, 100)
	k := &checkSink{t: t, src: src, pos: 100}
	s.Push(rec(src, 90, 10, 0, 10, 1), k)
	s.Push(rec(src, 100, 10, 0, 10, 2), k)
	if got, want := strings.Join(k.events, " "), "D100+10"; got != want || s.Late != 1 || s.Gaps != 0 {
		t.Errorf("events %q (want %q), late %d, gaps %d", got, want, s.Late, s.Gaps)
	}
}

// contSink records the Cont of each delivery.
type contSink struct{ conts []bool }

func (c *contSink) Data(b []byte, m Meta)               { c.conts = append(c.conts, m.Cont) }
func (c *contSink) Missing(n uint64, lost bool, m Meta) {}

// TestTrimmedIsCont: a piece that overlaps what was passed on (two calls
// raced on one socket) is passed on from inside its call: it is marked
// Cont, so a reader does not take its first byte for a call's start.
func TestTrimmedIsCont(t *testing.T) {
	src := []byte(strings.Repeat("0123456789", 20))
	var s Stream
	s.Reset(testLimits, true)
	k := &contSink{}
	s.Push(rec(src, 0, 10, 0, 10, 1), k)
	s.Push(rec(src, 5, 10, 0, 10, 2), k) // its first 5 bytes were passed on
	s.Push(rec(src, 15, 5, 0, 5, 3), k)
	if len(k.conts) != 3 || k.conts[0] || !k.conts[1] || k.conts[2] {
		t.Errorf("Cont of the deliveries %v, want [false true false]", k.conts)
	}
}
