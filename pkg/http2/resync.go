// Finding the frames again in a direction whose frame boundaries were lost.
package http2

// flagsAllowed are the flags each frame type defines (RFC 9113 §6).
var flagsAllowed = [...]byte{
	frameData:         flagEndStream | flagPadded,
	frameHeaders:      flagEndStream | flagEndHeaders | flagPadded | flagPriority,
	framePriority:     0,
	frameRSTStream:    0,
	frameSettings:     flagAck,
	framePushPromise:  flagEndHeaders | flagPadded,
	framePing:         flagAck,
	frameGoAway:       0,
	frameWindowUpdate: 0,
	frameContinuation: flagEndHeaders,
}

// resyncChecks is how many frame headers after a resync must each be one
// the connection could carry (plausible): a resync on bytes that only
// looked like frames loses the framing again at once.
const resyncChecks = 8

// maxResyncFrame bounds the length of a frame taken as a place to start
// again (SETTINGS_MAX_FRAME_SIZE's initial value; peers rarely raise it).
const maxResyncFrame = 1 << 14

// resync reports whether b, the first bytes of a call in a direction whose
// frame boundaries were lost, begins with frames: every frame header that
// lies in b must be one this connection could carry now (a defined type
// and flags, the length its type fixes, a stream that is open or, for
// HEADERS, one the peer may open), and a call does begin at a frame for
// the servers and clients that write whole frames and read a frame header
// at a time. No CONTINUATION: a header block's start was lost with the
// framing. When it does, the direction is read again from b on, with its
// HPACK table unknown.
func (h *half) resync(b []byte) bool {
	if !walk(b, h.plausible) {
		return false
	}
	h.r.dead, h.r.in, h.r.nhdr, h.r.preface = false, false, 0, 0
	h.r.check = resyncChecks
	h.block.on = false
	h.newDecoder(true)
	if !h.joining {
		h.c.stats.Resyncs++
	}
	h.joining = false
	return true
}

// LooksLikeFrames reports whether b, the bytes of a whole call on a
// connection picked up mid-way, are HTTP/2 frames: every frame header that
// lies whole in b has a defined type (not CONTINUATION) and flags, the
// length its type fixes (at most 16 KiB) and a stream id of the kind its
// type needs, and either the frames end where the call does, or two or
// more headers lie in it, or it is one frame header alone (a reader of
// one header at a time). HTTP/1's text (its first three bytes as a length
// are far past 16 KiB) and TLS records never pass; a binary body under a
// size prefix rarely does.
func LooksLikeFrames(b []byte) bool {
	n, end := 0, 0
	ok := walk(b, func(length int, typ, flags byte, id uint32) bool {
		n++
		end += frameHeaderLen + length
		return shaped(length, typ, flags, id)
	})
	return ok && (end == len(b) || n >= 2 || len(b) == frameHeaderLen)
}

// walk calls ok for each frame header that lies whole in b; it reports
// whether there was one and ok held for all.
func walk(b []byte, ok func(length int, typ, flags byte, id uint32) bool) bool {
	n := 0
	for off := 0; off+frameHeaderLen <= len(b); n++ {
		length, typ, flags, id := parseHeader(b[off:])
		if !ok(length, typ, flags, id) {
			return false
		}
		off += frameHeaderLen + length
	}
	return n > 0
}

// shaped reports whether a frame header's fields fit its type, whatever
// the connection's state.
func shaped(length int, typ, flags byte, id uint32) bool {
	if int(typ) >= len(flagsAllowed) || typ == frameContinuation || flags&^flagsAllowed[typ] != 0 ||
		id&0x80000000 != 0 || length > maxResyncFrame {
		return false
	}
	switch typ {
	case frameSettings:
		return id == 0 && length%6 == 0 && (flags&flagAck == 0 || length == 0)
	case framePing:
		return id == 0 && length == 8
	case frameGoAway:
		return id == 0 && length >= 8
	case frameWindowUpdate:
		return length == 4
	case frameRSTStream:
		return length == 4 && id != 0
	case framePriority:
		return length == 5 && id != 0
	}
	return id != 0
}

// plausible reports whether a frame header of these fields could come next.
func (h *half) plausible(length int, typ, flags byte, id uint32) bool {
	if !shaped(length, typ, flags, id) {
		return false
	}
	if !h.c.roles || h.c.joined {
		// Joined mid-way (or the roles not known yet): streams opened
		// before are not known, so any stream id may come.
		return true
	}
	switch typ {
	case frameSettings, framePing, frameGoAway, framePriority:
		return true
	case frameWindowUpdate:
		return id == 0 || h.c.known(id)
	case frameRSTStream:
		return h.c.known(id)
	case frameHeaders:
		// A new stream of the client's (odd), trailers or an answer on one
		// open, or the server's answer to one opened before it was seen.
		if h.client {
			return h.c.streams[id] != nil || id&1 == 1 && id > h.c.opened[1]
		}
		return h.c.streams[id] != nil || !h.c.closed(id)
	default: // DATA, PUSH_PROMISE
		return h.c.streams[id] != nil
	}
}

// closed reports whether stream id was seen opened and has ended.
func (c *Conn) closed(id uint32) bool {
	p := id & 1
	return c.streams[id] == nil && c.first[p] != 0 && id >= c.first[p] && id <= c.opened[p]
}

// known reports whether stream id is open or was.
func (c *Conn) known(id uint32) bool {
	return id != 0 && (c.streams[id] != nil || id <= c.opened[id&1])
}
