// Frames: one direction's bytes split into HTTP/2 frames (RFC 9113 §4.1),
// from pieces cut anywhere, with bytes that were not seen in between.
package http2

import "encoding/binary"

// Preface is what a client sends first on an HTTP/2 connection.
const Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// Frame types and flags (RFC 9113 §6).
const (
	frameData         = 0x0
	frameHeaders      = 0x1
	framePriority     = 0x2
	frameRSTStream    = 0x3
	frameSettings     = 0x4
	framePushPromise  = 0x5
	framePing         = 0x6
	frameGoAway       = 0x7
	frameWindowUpdate = 0x8
	frameContinuation = 0x9

	flagEndStream  = 0x1
	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20

	frameHeaderLen = 9
	goAwayKept     = 8       // of a GOAWAY's payload: the last stream id and the error code
	keptPayloadCap = 4 << 10 // payload room a connection keeps once closed
	// maxKeptPayload bounds a frame payload kept whole (a header block
	// fragment, SETTINGS): the largest SETTINGS_MAX_FRAME_SIZE a peer may
	// set is 16 MiB, but one kept past this (four frames of the default
	// 16 KiB) is cut and its block unresolved.
	maxKeptPayload = 64 << 10
)

// frame is the frame being read in one direction.
type frame struct {
	typ, flags byte
	stream     uint32
	length     uint32 // payload bytes
	left       uint32 // payload bytes still to come
	first      int    // the payload's first byte, -1 until seen
	payload    []byte // a kept frame's payload, as far as it came
	keep       bool   // the payload is kept whole (not DATA, PING, WINDOW_UPDATE, PRIORITY)
	gap        bool   // payload bytes were lost (never seen)
	cut        bool   // payload bytes moved but were not captured, or past maxKeptPayload
}

// reader splits one direction's bytes into frames for its handler.
type reader struct {
	preface int // bytes of the preface still expected at the start
	hdr     [frameHeaderLen]byte
	nhdr    int
	in      bool // a frame header was read: f is being read
	f       frame
	// dead is set when bytes of a frame header were not seen: the frame
	// boundaries are lost, and nothing more of the direction is read.
	dead bool
	// check is how many frame headers still must pass the handler's check
	// (after a resync).
	check int
}

// handler is told what a reader finds.
type handler interface {
	// begin is a frame whose header was read.
	begin(f *frame)
	// end is a frame whose payload has all passed (f.payload holds a kept one's).
	end(f *frame)
	// lost is framing lost in this direction.
	lost()
	// data is n bytes of a DATA frame's payload at offset off, as they
	// pass (b nil: they were not seen).
	data(f *frame, off uint32, b []byte, n int)
	// plausible reports whether a frame header of these fields could come
	// next (asked for the first ones after a resync).
	plausible(length int, typ, flags byte, id uint32) bool
}

// reset prepares r for a direction that starts with the preface (client
// from the start) or not.
func (r *reader) reset(preface bool) {
	keep := r.f.payload[:0]
	if cap(keep) > keptPayloadCap {
		keep = nil // a large frame's room is not kept for the next connection
	}
	*r = reader{}
	r.f.payload = keep
	if preface {
		r.preface = len(Preface)
	}
}

// release gives back a large frame's room (the connection closed).
func (r *reader) release() {
	if cap(r.f.payload) > keptPayloadCap {
		r.f.payload = nil
	}
}

// feed reads b.
func (r *reader) feed(b []byte, h handler) {
	for len(b) > 0 && !r.dead {
		if r.preface > 0 {
			// The preface's bytes are checked: others mean the direction
			// does not start where it was taken to (framing lost).
			k := min(r.preface, len(b))
			at := len(Preface) - r.preface
			if string(b[:k]) != Preface[at:at+k] {
				r.dead, r.preface = true, 0
				h.lost()
				return
			}
			r.preface -= k
			b = b[k:]
			continue
		}
		if !r.in {
			k := copy(r.hdr[r.nhdr:], b)
			r.nhdr += k
			b = b[k:]
			if r.nhdr == frameHeaderLen {
				r.start(h)
			}
			continue
		}
		k := min(int(r.f.left), len(b))
		r.payload(b[:k], k, h)
		b = b[k:]
	}
}

// skip passes over n bytes that moved but were not seen: lost, or not
// captured.
func (r *reader) skip(n uint64, lost bool, h handler) {
	for n > 0 && !r.dead {
		if r.preface > 0 {
			k := min(uint64(r.preface), n)
			r.preface -= int(k)
			n -= k
			continue
		}
		if !r.in {
			r.dead = true
			h.lost()
			return
		}
		k := min(uint64(r.f.left), n)
		if lost {
			r.f.gap = true
		} else {
			r.f.cut = true
		}
		r.payload(nil, int(k), h)
		n -= k
	}
}

// start begins the frame whose header was just read.
func (r *reader) start(h handler) {
	r.nhdr, r.in = 0, true
	keep := r.f.payload[:0]
	length, typ, flags, id := parseHeader(r.hdr[:])
	r.f = frame{length: uint32(length), typ: typ, flags: flags, stream: id & 0x7fffffff, first: -1}
	r.f.left = r.f.length
	if r.check > 0 {
		r.check--
		if !h.plausible(length, typ, flags, id) {
			// The resync was on bytes that only looked like frames.
			r.dead, r.in, r.check = true, false, 0
			h.lost()
			return
		}
	}
	switch r.f.typ {
	case frameHeaders, frameContinuation, frameSettings, frameRSTStream, framePushPromise, frameGoAway:
		r.f.keep = true
		r.f.payload = keep
	}
	h.begin(&r.f)
	if r.f.left == 0 {
		r.finish(h)
	}
}

// payload passes on n payload bytes of the current frame (b nil: not seen).
func (r *reader) payload(b []byte, n int, h handler) {
	f := &r.f
	if f.first < 0 && n > 0 && f.left == f.length && b != nil {
		f.first = int(b[0])
	}
	if f.typ == frameData && n > 0 {
		h.data(f, f.length-f.left, b, n)
	}
	if f.keep && b != nil && !f.cut && !f.gap {
		switch {
		case f.typ == frameGoAway: // its last stream id and error code; not its debug data
			f.payload = append(f.payload, b[:min(len(b), max(0, goAwayKept-len(f.payload)))]...)
		case len(f.payload)+len(b) <= maxKeptPayload:
			f.payload = append(f.payload, b...)
		default:
			f.cut = true
		}
	}
	f.left -= uint32(n)
	if f.left == 0 {
		r.finish(h)
	}
}

func (r *reader) finish(h handler) {
	r.in = false
	h.end(&r.f)
}

// parseHeader reads a frame header (at least frameHeaderLen bytes): the
// payload's length, the type, the flags and the stream id with its
// reserved bit.
func parseHeader(b []byte) (length int, typ, flags byte, id uint32) {
	return int(b[0])<<16 | int(b[1])<<8 | int(b[2]), b[3], b[4], binary.BigEndian.Uint32(b[5:9])
}

// padding is how many bytes of f's payload are padding and what comes
// before the data (the pad length byte, a HEADERS frame's priority);
// ok is false when the pad length was not seen or does not fit.
func (f *frame) padding() (lead, pad uint32, ok bool) {
	if f.typ == frameHeaders && f.flags&flagPriority != 0 {
		lead += 5
	}
	if f.flags&flagPadded == 0 {
		return lead, 0, lead <= f.length
	}
	lead++
	if f.first < 0 {
		return lead, 0, false
	}
	pad = uint32(f.first)
	return lead, pad, lead+pad <= f.length
}
