// One HTTP/2 connection: its two directions' frames and header blocks, and
// the streams open on it.
package http2

import (
	"encoding/binary"
	"slices"

	"golang.org/x/net/http2/hpack"

	"github.com/httptrace/httptrace/pkg/httpparse"
	"github.com/httptrace/httptrace/pkg/stream"
)

// Limits bound what one connection keeps.
type Limits struct {
	// MaxStreams is how many open streams are followed; a stream past it
	// is counted (StreamsDropped), its header blocks still decoded.
	MaxStreams int
	// MaxHeaderBytes bounds the names and values kept per message.
	MaxHeaderBytes int
	// CaptureBodyBytes is how many bytes of each body are kept (Body).
	CaptureBodyBytes int
	// Budget, when set, is charged the names and values kept, shared with
	// the HTTP/1 parsers: a field past it is left out (Truncated).
	Budget *httpparse.Budget
}

// Stats counts what the connections of one owner saw.
type Stats struct {
	Streams     uint64 // streams handed on
	FramingLost uint64 // times a direction's frame boundaries were lost to bytes not seen
	Resyncs     uint64 // times frames were found again at a call's first bytes after that
	// Unresolved are header fields not decoded: each that names a table
	// entry never seen, and the rest of each block that could not be read
	// on (bytes not seen, or an entry past the table's known end).
	Unresolved     uint64
	StreamsDropped uint64 // streams past MaxStreams, not followed
	ClosedAnswers  uint64 // server header blocks on a stream id seen closed: not logged
}

const (
	defaultTableSize = 4096    // SETTINGS_HEADER_TABLE_SIZE's initial value
	keptBodyCap      = 4096    // body room a recycled stream keeps
	maxTableBytes    = 1 << 16 // the largest HPACK table followed (and filled with placeholders)
	maxStringBytes   = 1 << 20 // a name or value longer is not decoded
)

// half is one direction: its frames and its HPACK decoder.
type half struct {
	c       *Conn
	client  bool // the client's direction (requests)
	joining bool // dead since the connection was joined mid-way, not from a loss
	// scratch takes a header block while it is not known which direction
	// is the client's (Reset with client -1): a request's (:method) or a
	// response's (:status) tells, and it then goes to its stream.
	scratch Message
	r       reader
	dec     *hpack.Decoder
	table   uint32 // the dynamic table size its peer allows (SETTINGS)
	cur     stream.Meta
	// The header block being read: the message it goes to (nil: a stream
	// not followed, or a PUSH_PROMISE), whether it is that message's
	// trailers, whether its frame ended the stream, and whether it broke.
	block struct {
		on        bool
		stream    uint32
		msg       *Message
		trailers  bool
		endStream bool
		broken    bool
	}
}

// Conn follows one HTTP/2 connection. Not safe for concurrent use.
type Conn struct {
	lim     Limits
	stats   *Stats
	emit    func(*Stream)
	dirs    [2]half
	streams map[uint32]*Stream
	free    []*Stream
	// opened is the highest stream id seen opened, by parity (client odd,
	// server-pushed even): ids are never reused (RFC 9113 §5.1.1), so a
	// HEADERS on a lower one not open (trailers after a RST_STREAM) opens
	// nothing.
	opened [2]uint32
	// first is the lowest stream id seen opened, by parity: a server's
	// answer on a lower one is to a request from before (unmatched).
	first [2]uint32
	// roles is set once it is known which direction is the client's.
	roles bool
	// joined: the connection was joined mid-way, so streams opened before
	// may carry frames at any time.
	joined bool
	// goAway[p] is set when a GOAWAY said streams of parity p past
	// goAwayLast[p] will not be processed; goAwayCode is its code.
	goAway     [2]bool
	goAwayLast [2]uint32
	goAwayCode [2]uint32
}

// NewConn returns a connection that calls emit, synchronously, for each
// stream that ends; the stream may be reused after emit returns. Counts go
// to stats.
func NewConn(lim Limits, stats *Stats, emit func(*Stream)) *Conn {
	c := &Conn{lim: lim, stats: stats, emit: emit, streams: make(map[uint32]*Stream)}
	for i := range c.dirs {
		c.dirs[i].c = c
	}
	return c
}

// Reset prepares c for a new connection whose client sends in direction
// client (0 or 1; -1 when not known: the first header block that decodes
// its :method or :status tells, and frames before it are passed over).
// fromStart says the connection is read from its first byte: the client's
// direction opens with the preface, and both HPACK tables start empty as
// the decoders do. Otherwise a field naming an entry added before is
// unresolved.
func (c *Conn) Reset(client int, fromStart bool) {
	c.roles, c.joined = client >= 0, !fromStart
	for id, s := range c.streams {
		delete(c.streams, id)
		c.put(s)
	}
	for i := range c.dirs {
		c.dirs[i].scratch.release(c)
	}
	c.opened, c.first = [2]uint32{}, [2]uint32{}
	c.goAway, c.goAwayLast, c.goAwayCode = [2]bool{}, [2]uint32{}, [2]uint32{}
	for i := range c.dirs {
		h := &c.dirs[i]
		h.client = i == client
		h.r.reset(fromStart && h.client)
		// Joined mid-way: a direction's first call may begin inside a
		// frame, so each is read from the first that begins with frames.
		h.r.dead, h.joining = !fromStart, !fromStart
		h.table = defaultTableSize
		h.newDecoder(!fromStart)
		h.block.on = false
		h.cur = stream.Meta{}
	}
}

// Upgraded opens stream 1 with req, the HTTP/1.1 request that asked for
// the upgrade to h2c (RFC 7540 §3.2): the server's answer to it comes on
// stream 1, in frames.
func (c *Conn) Upgraded(req Message) {
	if s := c.get(1, true, true); s != nil {
		req.Headers, req.Ended, req.size = true, true, 0
		fields, body := s.Request.Fields[:0], s.Request.Body[:0]
		s.Request = req
		s.Request.Fields = append(fields, req.Fields...)
		s.Request.Body = append(body, req.Body...)
	}
}

// ClientSettings applies the client's SETTINGS sent as the HTTP2-Settings
// header of its request asking for h2c (RFC 7540 §3.2.1): payload is the
// header's value, decoded.
func (c *Conn) ClientSettings(payload []byte) {
	for i := range c.dirs {
		if h := &c.dirs[i]; h.client {
			h.settings(&frame{typ: frameSettings, length: uint32(len(payload)), payload: payload})
		}
	}
}

// Client is the client's direction, -1 while it is not known.
func (c *Conn) Client() int {
	switch {
	case !c.roles:
		return -1
	case c.dirs[0].client:
		return 0
	}
	return 1
}

// Feed reads bytes of direction dir, moved by the call m.
func (c *Conn) Feed(dir int, b []byte, m stream.Meta) {
	h := &c.dirs[dir]
	h.cur = m
	// A resync starts at a call's first bytes: a later record of one call
	// begins wherever 16 KiB fell, mostly inside a frame.
	if h.r.dead && (m.Cont || !h.resync(b)) {
		return
	}
	h.r.feed(b, h)
}

// Skip passes over n bytes of direction dir that moved but were not seen:
// lost (a gap), or not captured.
func (c *Conn) Skip(dir int, n uint64, lost bool, m stream.Meta) {
	h := &c.dirs[dir]
	h.cur = m
	h.r.skip(n, lost, h)
}

// Close ends the connection: streams still open are handed on, in order.
func (c *Conn) Close() {
	ids := make([]uint32, 0, len(c.streams))
	for id := range c.streams {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		c.end(c.streams[id])
	}
	for i := range c.dirs {
		c.dirs[i].scratch.release(c)
		c.dirs[i].r.release()
	}
}

// get returns stream id, opening it if open is set and there is room; by
// says the opener is the client (whose HEADERS open streams, in increasing
// ids) rather than the server answering a stream not seen.
func (c *Conn) get(id uint32, open, byClient bool) *Stream {
	if s := c.streams[id]; s != nil || !open {
		return s
	}
	p := id & 1
	switch {
	case byClient && id <= c.opened[p]:
		return nil // closed already
	case byClient:
		c.opened[p] = id
		if c.first[p] == 0 {
			c.first[p] = id
		}
	case c.closed(id):
		// The server's answer on a stream seen opened and ended since
		// (trailers in flight after a RST_STREAM): nothing to open. One
		// below the first seen was opened before (a connection joined
		// mid-way, or a lost request): it is logged unmatched. An answer
		// to a request whose HEADERS were lost with the framing cannot be
		// told from the first kind: it is counted, not logged.
		c.stats.ClosedAnswers++
		return nil
	}
	if len(c.streams) >= c.lim.MaxStreams && !c.endOldestGap() {
		c.stats.StreamsDropped++
		return nil
	}
	var s *Stream
	if n := len(c.free); n > 0 {
		s, c.free = c.free[n-1], c.free[:n-1]
	} else {
		s = new(Stream)
	}
	*s = Stream{ID: id, Request: Message{Fields: s.Request.Fields[:0], Trailers: s.Request.Trailers[:0], Body: s.Request.Body[:0]},
		Response: Message{Fields: s.Response.Fields[:0], Trailers: s.Response.Trailers[:0], Body: s.Response.Body[:0]}, answerOnly: !byClient}
	c.streams[id] = s
	return s
}

// endOldestGap makes room by ending the oldest open stream that lost
// frames (its end may have been among them, and it would stay open until
// the close); it reports whether there was one.
func (c *Conn) endOldestGap() bool {
	var old *Stream
	for _, s := range c.streams {
		if (s.Request.Gap || s.Response.Gap) && (old == nil || s.ID < old.ID) {
			old = s
		}
	}
	if old == nil {
		return false
	}
	c.end(old)
	return true
}

func (c *Conn) put(s *Stream) {
	s.Request.release(c)
	s.Response.release(c)
	for _, m := range [2]*Message{&s.Request, &s.Response} {
		if cap(m.Body) > keptBodyCap {
			m.Body = nil // a large body's room is not kept idle
		}
	}
	if len(c.free) < 16 {
		clear(s.Request.Fields)
		clear(s.Response.Fields)
		clear(s.Request.Trailers)
		clear(s.Response.Trailers)
		c.free = append(c.free, s)
	}
}

// release gives back what m's fields and body were charged to the budget.
func (m *Message) release(c *Conn) {
	c.lim.Budget.Give(int64(m.size + m.bodyCharged))
	m.size, m.bodyCharged = 0, 0
}

// end hands stream s on and forgets it.
func (c *Conn) end(s *Stream) {
	for i := range c.dirs {
		// A header block still being read (its CONTINUATION to come) goes
		// to no stream now: s is about to be reused.
		if b := &c.dirs[i].block; b.msg == &s.Request || b.msg == &s.Response {
			b.msg = nil
		}
	}
	delete(c.streams, s.ID)
	c.stats.Streams++
	c.emit(s)
	c.put(s)
}

// maybeEnd hands s on once both directions ended (the response alone, on
// a stream whose request came before it was seen).
func (c *Conn) maybeEnd(s *Stream) {
	if (s.Request.Ended || s.answerOnly) && s.Response.Ended {
		c.end(s)
	}
}

// msg is h's message of stream s.
func (h *half) msg(s *Stream) *Message {
	if h.client {
		return &s.Request
	}
	return &s.Response
}

// begin is a frame whose header was read.
func (h *half) begin(f *frame) {
	switch f.typ {
	case frameHeaders, framePushPromise:
		if h.block.on { // a header block left without END_HEADERS
			h.endBlock(true)
		}
		h.startBlock(f)
	case frameContinuation:
		if !h.block.on || h.block.stream != f.stream {
			h.block.on, h.block.broken, h.block.msg = true, true, nil
			h.block.stream = f.stream
		}
	}
	if s := h.c.streams[f.stream]; s != nil && f.stream != 0 {
		if m := h.msg(s); m.First.At == 0 && (f.typ == frameHeaders || f.typ == frameData) {
			m.First = h.cur
		}
	}
}

// end is a frame whose payload has all passed.
func (h *half) end(f *frame) {
	switch f.typ {
	case frameHeaders, frameContinuation, framePushPromise:
		h.fragment(f)
	case frameData:
		h.dataEnd(f)
	case frameSettings:
		h.settings(f)
	case frameRSTStream:
		if s := h.c.streams[f.stream]; s != nil && len(f.payload) >= 4 {
			s.Reset, s.ResetCode = true, binary.BigEndian.Uint32(f.payload)
			h.c.end(s)
		}
	case frameGoAway:
		if f.stream == 0 && len(f.payload) >= goAwayKept {
			h.goAway(binary.BigEndian.Uint32(f.payload)&0x7fffffff, binary.BigEndian.Uint32(f.payload[4:]))
		}
	}
}

// goAway takes a GOAWAY h's side sent: the streams its peer opened past
// last were not and will not be processed (RFC 9113 §6.8); they end now,
// and ones opened later (in flight) end as their header block does.
func (h *half) goAway(last, code uint32) {
	p := uint32(1) // the client opens odd streams; the server pushes even ones
	if h.client {
		p = 0
	}
	h.c.goAway[p], h.c.goAwayLast[p], h.c.goAwayCode[p] = true, last, code
	ids := make([]uint32, 0, len(h.c.streams))
	for id := range h.c.streams {
		if id > last && id&1 == p {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		h.c.refuse(h.c.streams[id])
	}
}

// refuse ends s, which a GOAWAY left unprocessed.
func (c *Conn) refuse(s *Stream) {
	p := s.ID & 1
	s.GoAway, s.GoAwayCode = true, c.goAwayCode[p]
	c.end(s)
}

// refused reports whether a GOAWAY left stream id unprocessed.
func (c *Conn) refused(id uint32) bool {
	p := id & 1
	return c.goAway[p] && id > c.goAwayLast[p]
}

// dataEnd counts a DATA frame on its stream.
func (h *half) dataEnd(f *frame) {
	s := h.c.streams[f.stream]
	if s == nil {
		return
	}
	m := h.msg(s)
	m.Bytes += frameHeaderLen + uint64(f.length)
	lead, pad, ok := f.padding()
	if !ok {
		pad = 0
	}
	if lead+pad <= f.length {
		m.BodyBytes += uint64(f.length - lead - pad)
	}
	m.Gap = m.Gap || f.gap
	m.Last = h.cur
	if f.flags&flagEndStream != 0 {
		m.Ended = true
		h.c.maybeEnd(s)
	}
}

// settings takes a SETTINGS frame: SETTINGS_HEADER_TABLE_SIZE bounds the
// table of the blocks its sender decodes, the other direction's.
func (h *half) settings(f *frame) {
	if f.flags&flagAck != 0 || f.stream != 0 || int(f.length) != len(f.payload) {
		return
	}
	for p := f.payload; len(p) >= 6; p = p[6:] {
		if id := uint16(p[0])<<8 | uint16(p[1]); id == 0x1 {
			o := &h.c.dirs[1]
			if o == h {
				o = &h.c.dirs[0]
			}
			// Capped: a peer's table past maxTableBytes is not followed (its
			// blocks that use more break, counted unresolved).
			o.table = min(uint32(p[2])<<24|uint32(p[3])<<16|uint32(p[4])<<8|uint32(p[5]), maxTableBytes)
			o.dec.SetAllowedMaxDynamicTableSize(max(o.table, defaultTableSize))
		}
	}
}

// lost is framing lost in h's direction: every stream open may have lost
// frames in it (gap). They stay open: a later call of the direction may
// begin with frames again (resync), else they end at the close.
func (h *half) lost() {
	h.c.stats.FramingLost++
	if h.block.on && h.block.msg != nil {
		h.block.msg.Unresolved++
		h.c.stats.Unresolved++
	}
	h.block.on = false
	for _, s := range h.c.streams {
		m := h.msg(s)
		m.Gap, m.body.lost, m.bodyCut = true, true, true
	}
}

// atoi3 reads a three-digit status code; 0 if it is not one.
func atoi3(s string) int {
	if len(s) != 3 {
		return 0
	}
	n := 0
	for i := 0; i < 3; i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}
