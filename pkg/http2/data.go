// DATA payloads as they pass: the first bytes of a body kept (when asked
// for), and a gRPC call's length-prefixed messages counted.
package http2

// grpcPrefix is a gRPC message's prefix: a flag byte and a 4-byte length.
const grpcPrefix = 5

// bodyState is what one message's DATA payloads have shown so far.
type bodyState struct {
	// Messages counts the gRPC messages whose prefix was seen; lost is set
	// when bytes where a prefix may lie were not seen (the count is then
	// not known).
	Messages int
	lost     bool
	left     uint64 // bytes of the current message still to come
	hdr      [grpcPrefix]byte
	nhdr     int
}

// data takes n bytes of DATA frame f's payload at offset off (b nil: they
// were not seen).
func (h *half) data(f *frame, off uint32, b []byte, n int) {
	s := h.c.streams[f.stream]
	if s == nil {
		return
	}
	m := h.msg(s)
	// The body is the payload without its pad length byte and padding.
	lead, pad, ok := f.padding()
	if !ok {
		m.body.lost, m.bodyCut = true, true // where the body ends in the frame is not known
		return
	}
	start, end := off, off+uint32(n)
	start, end = max(start, lead), min(end, f.length-pad)
	if start >= end {
		return
	}
	if b != nil {
		b = b[start-off : end-off]
	}
	m.bodyBytes(h.c, b, int(end-start))
}

// bodyBytes takes n bytes of m's body (b nil: not seen). The kept part
// stops at the first byte not seen, and at the budget.
func (m *Message) bodyBytes(c *Conn, b []byte, n int) {
	capture := c.lim.CaptureBodyBytes
	switch {
	case b == nil && len(m.Body) < capture:
		m.bodyCut = true
	case b != nil && !m.bodyCut && len(m.Body) < capture:
		k := min(len(b), capture-len(m.Body))
		if c.lim.Budget.Take(int64(k)) {
			m.Body = append(m.Body, b[:k]...)
			m.bodyCharged += k
		} else {
			m.bodyCut = true
		}
	}
	st := &m.body
	for n > 0 && !st.lost {
		if st.left > 0 {
			k := min(st.left, uint64(n))
			st.left -= k
			n -= int(k)
			if b != nil {
				b = b[k:]
			}
			continue
		}
		if b == nil { // a prefix, or part of one, not seen
			st.lost = true
			return
		}
		k := copy(st.hdr[st.nhdr:], b)
		st.nhdr += k
		b, n = b[k:], n-k
		if st.nhdr == grpcPrefix {
			st.Messages++
			st.nhdr = 0
			st.left = uint64(st.hdr[1])<<24 | uint64(st.hdr[2])<<16 | uint64(st.hdr[3])<<8 | uint64(st.hdr[4])
		}
	}
}

// GRPCMessages is how many gRPC messages m carried, -1 when bytes where a
// message's prefix may lie were not seen, or the last message was cut.
func (m *Message) GRPCMessages() int {
	st := &m.body
	if st.lost || st.nhdr != 0 || st.left != 0 {
		return -1
	}
	return st.Messages
}
