// Package stream reassembles one direction of a connection from data
// records by stream position: pieces that come early wait (within bounds)
// for the bytes before them, holes that do not fill become gaps of known
// length, and bytes moved but not captured are reported as such.
package stream

import "slices"

// Meta is what is known about the syscall that moved a piece's bytes.
type Meta struct {
	At       uint64 // when the bytes moved: EndNs for reads, StartNs for writes
	PID, TID uint32
	FD       int32
	Comm     [16]byte
	// Cont: the bytes continue the same call's previous record (an HTTP/2
	// connection's call, sent whole as several), not a call's start.
	Cont bool
}

// Piece is the bytes one syscall moved: Bytes bytes from Pos, of which
// Data was captured, starting CapturedOff bytes after Pos.
type Piece struct {
	Pos         uint64
	Bytes       uint32
	CapturedOff uint32
	Data        []byte
	Meta        Meta
	// Unseen marks bytes the socket moved that no syscall record carried
	// (nothing of them is captured): passed on as not captured, counted apart.
	Unseen bool
}

// Sink takes a stream's bytes in order. Data's b is only valid during the
// call. Missing reports n bytes moved but not seen: lost (a gap: records
// never arrived) or merely not captured.
type Sink interface {
	Data(b []byte, m Meta)
	Missing(n uint64, lost bool, m Meta)
}

// Limits bound what a stream holds while it waits for a hole to fill.
type Limits struct {
	MaxBufferedBytes int    // captured bytes held behind a hole
	MaxPieces        int    // pieces held behind a hole
	WindowNs         uint64 // how long a hole may stay open
}

// Stats count what a stream did; they only grow.
type Stats struct {
	Gaps        uint64 // holes that became gaps
	Lost        uint64 // bytes in those gaps
	NotCaptured uint64 // bytes moved but not captured
	Unseen      uint64 // bytes the socket moved with no record (Piece.Unseen)
	Late        uint64 // pieces dropped because their bytes were already passed on
	Forced      uint64 // holes made gaps early because a bound was reached
}

// Stream is one direction of one connection.
type Stream struct {
	Stats
	lim       Limits
	next      uint64 // position of the next byte to pass on
	started   bool
	fromZero  bool // the stream is known to start at position 0
	pend      []piece
	buffered  int
	holeSince uint64
	spare     [][]byte
}

type piece struct {
	pos         uint64
	bytes       uint64
	capturedOff uint64
	data        []byte
	meta        Meta
	unseen      bool
}

// Reset prepares s for a new connection, keeping its buffers. A stream
// seen from its start begins at position 0; otherwise at the first piece.
func (s *Stream) Reset(lim Limits, fromZero bool) {
	for _, p := range s.pend {
		s.spare = append(s.spare, p.data[:0])
	}
	*s = Stream{lim: lim, fromZero: fromZero, pend: s.pend[:0], spare: s.spare}
}

// Release drops what s keeps for reuse and what it holds behind a hole:
// the stream is being dropped.
func (s *Stream) Release() {
	s.pend, s.spare, s.buffered = nil, nil, 0
}

// ResetAt prepares s for a connection whose next byte is at position next:
// one resumed after it was dropped, whose bytes before next were passed on.
func (s *Stream) ResetAt(lim Limits, next uint64) {
	s.Reset(lim, true)
	s.next = next
}

// Next is the position of the next byte the stream will pass on.
func (s *Stream) Next() uint64 { return s.next }

// Waiting reports whether pieces wait behind a hole.
func (s *Stream) Waiting() bool { return len(s.pend) > 0 }

// Push takes one piece and passes on whatever is now in order.
func (s *Stream) Push(in *Piece, sink Sink) {
	if in.Bytes == 0 {
		return
	}
	if in.Pos > ^uint64(0)-uint64(in.Bytes) { // would run past the end of positions
		s.Late++
		return
	}
	if !s.started {
		s.started = true
		if !s.fromZero {
			s.next = in.Pos
		}
	}
	p := piece{pos: in.Pos, bytes: uint64(in.Bytes), capturedOff: uint64(in.CapturedOff), data: in.Data, meta: in.Meta,
		unseen: in.Unseen}
	if p.unseen {
		p.capturedOff, p.data = p.bytes, nil
	}
	if p.capturedOff > p.bytes { // a malformed piece: keep its length, drop its bytes
		p.capturedOff, p.data = p.bytes, nil
	} else if room := p.bytes - p.capturedOff; uint64(len(p.data)) > room {
		p.data = p.data[:room]
	}
	switch {
	case p.pos+p.bytes <= s.next:
		s.Late++
	case p.pos > s.next:
		s.hold(p, sink)
	default:
		s.deliver(p, sink)
		s.drain(sink)
	}
}

// Expire makes a hole open for longer than the window a gap.
func (s *Stream) Expire(nowNs uint64, sink Sink) {
	for len(s.pend) > 0 && nowNs >= s.holeSince+s.lim.WindowNs {
		s.closeHole(sink)
	}
}

// Flush makes every hole a gap and passes on all that waits.
func (s *Stream) Flush(sink Sink) {
	for len(s.pend) > 0 {
		s.closeHole(sink)
	}
}

// hold keeps a copy of a piece that came before the bytes ahead of it.
func (s *Stream) hold(p piece, sink Sink) {
	var buf []byte
	if n := len(s.spare); n > 0 {
		buf, s.spare = s.spare[n-1], s.spare[:n-1]
	}
	p.data = append(buf[:0], p.data...)
	i, _ := slices.BinarySearchFunc(s.pend, p.pos, func(q piece, pos uint64) int {
		if q.pos <= pos {
			return -1
		}
		return 1
	})
	s.pend = slices.Insert(s.pend, i, p)
	s.buffered += len(p.data)
	if len(s.pend) == 1 {
		s.holeSince = p.meta.At
	}
	for len(s.pend) > 0 && (s.buffered > s.lim.MaxBufferedBytes || len(s.pend) > s.lim.MaxPieces) {
		s.Forced++
		s.closeHole(sink)
	}
}

// closeHole declares the bytes before the first waiting piece lost.
func (s *Stream) closeHole(sink Sink) {
	first := &s.pend[0]
	if n := first.pos - s.next; first.pos > s.next {
		s.Gaps++
		s.Lost += n
		sink.Missing(n, true, first.meta)
		s.next = first.pos
	}
	s.drain(sink)
}

// drain passes on waiting pieces that are now in order.
func (s *Stream) drain(sink Sink) {
	for len(s.pend) > 0 && s.pend[0].pos <= s.next {
		p := s.pend[0]
		s.pend = slices.Delete(s.pend, 0, 1)
		s.buffered -= len(p.data)
		if p.pos+p.bytes <= s.next {
			s.Late++
		} else {
			s.deliver(p, sink)
		}
		s.spare = append(s.spare, p.data[:0])
	}
	if len(s.pend) > 0 {
		s.holeSince = s.pend[0].meta.At
	}
}

// deliver passes on a piece that starts at or before next, without the
// part already passed on.
func (s *Stream) deliver(p piece, sink Sink) {
	if t := s.next - p.pos; p.pos < s.next {
		switch {
		case t >= p.capturedOff+uint64(len(p.data)):
			p.capturedOff, p.data = 0, nil
		case t > p.capturedOff:
			p.data = p.data[t-p.capturedOff:]
			p.capturedOff = 0
		default:
			p.capturedOff -= t
		}
		p.pos, p.bytes = s.next, p.bytes-t
		if len(p.data) == 0 {
			p.capturedOff = p.bytes // nothing captured is left
		}
		// What is left starts inside its call, not at a call's start.
		p.meta.Cont = true
	}
	if p.capturedOff > 0 {
		if p.unseen {
			s.Unseen += p.capturedOff
		} else {
			s.NotCaptured += p.capturedOff
		}
		sink.Missing(p.capturedOff, false, p.meta)
	}
	if len(p.data) > 0 {
		sink.Data(p.data, p.meta)
	}
	if tail := p.bytes - p.capturedOff - uint64(len(p.data)); tail > 0 {
		s.NotCaptured += tail
		sink.Missing(tail, false, p.meta)
	}
	s.next = p.pos + p.bytes
}
