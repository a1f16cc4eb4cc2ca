// Header blocks: each direction's HPACK decoder, with placeholders for a
// table not known, and the messages its blocks fill.
package http2

import "golang.org/x/net/http2/hpack"

// learnRoles takes the header block h just decoded into its scratch
// message while the roles were not known: a request makes h the client's
// direction, a response the server's; the block then goes to its stream.
// It reports the message the block now belongs to (nil: still not known,
// or no room for the stream).
func (h *half) learnRoles() *Message {
	sc := &h.scratch
	switch {
	case sc.Method != "":
		h.client = true
	case sc.Status != 0:
		h.client = false
	default:
		return nil
	}
	c := h.c
	for i := range c.dirs {
		if o := &c.dirs[i]; o != h {
			o.client = !h.client
		}
	}
	c.roles = true
	s := c.get(h.block.stream, true, h.client)
	if s == nil {
		return nil
	}
	m := h.msg(s)
	fields := m.Fields[:0]
	*m = *sc
	sc.Fields, sc.size = fields, 0 // the stream's room goes to the next scratch block; its charge with the block
	return m
}

// newDecoder starts h's HPACK decoder again. unknown says the peer's
// table holds entries never seen (a connection joined mid-way, a block
// that broke): the new table is then filled with placeholder entries, so
// that a field naming one of those is recognised and left out as
// unresolved while the rest of its block still decodes. Entries added from
// now on go in front of the placeholders as they do in the peer's table,
// so an index names the same entry in both, or a placeholder, or none
// (the block then breaks, and the decoder starts again).
func (h *half) newDecoder(unknown bool) {
	size := max(h.table, defaultTableSize)
	h.dec = hpack.NewDecoder(size, h.field)
	h.dec.SetAllowedMaxDynamicTableSize(size)
	h.dec.SetMaxStringLength(maxStringBytes)
	if unknown {
		h.dec.SetEmitEnabled(false)
		// The block is well formed (TestPlaceholders): no error to handle.
		h.dec.Write(placeholders[:4*min(int(size)/placeholderEntryBytes+1, maxPlaceholders)])
		h.dec.Close()
		h.dec.SetEmitEnabled(true)
	}
}

// placeholderName is the name of a placeholder entry: no field has it (a
// field name is a token).
const placeholderName = "\x00"

const (
	placeholderEntryBytes = 32 + len(placeholderName) // RFC 7541 §4.1
	maxPlaceholders       = maxTableBytes / placeholderEntryBytes
)

// placeholders is a header block of maxPlaceholders literal fields with
// incremental indexing and a new name (RFC 7541 §6.2.1), each 4 bytes:
// 0x40, the name's length, the name, an empty value.
var placeholders = func() []byte {
	b := make([]byte, 0, 4*maxPlaceholders)
	for range maxPlaceholders {
		b = append(b, 0x40, byte(len(placeholderName)), placeholderName[0], 0)
	}
	return b
}()

// startBlock begins the header block a HEADERS or PUSH_PROMISE frame opens.
func (h *half) startBlock(f *frame) {
	b := &h.block
	b.on, b.stream, b.broken, b.msg, b.trailers = true, f.stream, false, nil, false
	b.endStream = f.flags&flagEndStream != 0
	if f.typ != frameHeaders {
		return // a promised request: decoded for the table's sake, not kept
	}
	if !h.c.roles {
		sc := &h.scratch
		sc.release(h.c)
		*sc = Message{Fields: sc.Fields[:0], First: h.cur}
		b.msg = sc
		return
	}
	// A client's HEADERS opens its stream; a server's HEADERS on a stream
	// not seen answers a request that was not (it is logged unmatched).
	s := h.c.get(f.stream, true, h.client)
	if s == nil {
		return
	}
	m := h.msg(s)
	b.msg, b.trailers = m, m.Headers
	if m.First.At == 0 {
		m.First = h.cur
	}
}

// fragment takes a header block fragment: it goes to the decoder, in order,
// unless the block broke; END_HEADERS ends the block.
func (h *half) fragment(f *frame) {
	b := &h.block
	if !b.on {
		return
	}
	if m := b.msg; m != nil {
		m.Bytes += frameHeaderLen + uint64(f.length)
		m.Gap = m.Gap || f.gap
		m.Truncated = m.Truncated || f.cut
		m.Last = h.cur
	}
	if f.gap || f.cut {
		b.broken = true
	}
	lead, pad, ok := f.padding()
	if f.typ == framePushPromise {
		lead += 4 // the promised stream id
	}
	if f.typ == frameContinuation {
		lead, pad, ok = 0, 0, true
	}
	if !ok || lead+pad > uint32(len(f.payload)) || len(f.payload) != int(f.length) {
		b.broken = true
	}
	if !b.broken {
		if _, err := h.dec.Write(f.payload[lead : f.length-pad]); err != nil {
			b.broken = true
		}
	}
	if f.flags&flagEndHeaders != 0 {
		h.endBlock(false)
	}
}

// endBlock ends the header block; a block that broke (or was left
// unfinished) leaves the decoder's table unknown, so it starts again empty:
// a later field that names an entry from before is then unresolved, never
// another entry.
func (h *half) endBlock(unfinished bool) {
	b := &h.block
	b.on = false
	if !b.broken && !unfinished {
		if err := h.dec.Close(); err != nil {
			b.broken = true
		}
	}
	if b.broken || unfinished {
		h.c.stats.Unresolved++
		if b.msg != nil {
			b.msg.Unresolved++
		}
		h.newDecoder(true)
	}
	m := b.msg
	if m != nil && m == &h.scratch {
		if m = h.learnRoles(); m == nil {
			return
		}
		b.msg = m
	}
	if m == nil {
		return
	}
	if !b.trailers {
		if !h.client && m.Status >= 100 && m.Status < 200 {
			// An interim response: the final one's block comes next.
			m.release(h.c)
			m.Status, m.Fields = 0, m.Fields[:0]
			return
		}
		m.Headers = true
	}
	if b.endStream {
		m.Ended = true
	}
	s := h.c.streams[b.stream]
	switch {
	case s != nil && h.client && h.c.refused(s.ID):
		h.c.refuse(s) // opened in flight, past a GOAWAY's last stream id
	case s != nil && b.endStream:
		h.c.maybeEnd(s)
	}
}

// field takes one decoded header field.
func (h *half) field(f hpack.HeaderField) {
	m := h.block.msg
	if m == nil {
		return
	}
	if f.Name == placeholderName {
		m.Unresolved++
		h.c.stats.Unresolved++
		return
	}
	if len(f.Name) > 0 && f.Name[0] == ':' {
		if h.block.trailers {
			return // pseudo-header fields are not allowed in trailers
		}
		switch f.Name {
		case ":method":
			m.Method = f.Value
		case ":scheme":
			m.Scheme = f.Value
		case ":authority":
			m.Authority = f.Value
		case ":path":
			m.Path = f.Value
		case ":status":
			m.Status = atoi3(f.Value)
		}
		return
	}
	n := len(f.Name) + len(f.Value)
	if m.Truncated || m.size+n > h.c.lim.MaxHeaderBytes || !h.c.lim.Budget.Take(int64(n)) {
		m.Truncated = true // what is kept is the fields before the limit
		return
	}
	m.size += len(f.Name) + len(f.Value)
	if h.block.trailers {
		m.Trailers = append(m.Trailers, Field{Name: f.Name, Value: f.Value})
	} else {
		m.Fields = append(m.Fields, Field{Name: f.Name, Value: f.Value})
	}
}
