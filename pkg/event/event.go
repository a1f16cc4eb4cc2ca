// Package event decodes the records the BPF programs send, whose layout is
// defined once in bpf/event.h and mirrored here.
package event

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Kind mirrors enum httptrace_event_kind.
type Kind uint32

// The event kinds.
const (
	KindRequest Kind = 1
)

// Header mirrors struct httptrace_event up to its data field. Its size and
// every offset are checked against the C definition by a test.
type Header struct {
	TimestampNs   uint64
	PID           uint32
	TID           uint32
	FD            int32
	Kind          Kind
	ReadBytes     uint32
	CapturedBytes uint32
	Comm          [16]byte
}

// HeaderSize is the size of Header on the wire (offsetof data in C).
const HeaderSize = 48

// Event is one decoded record.
type Event struct {
	Header
	Data []byte // the captured bytes, CapturedBytes long
}

// CommString is the process name without its NUL padding.
func (h *Header) CommString() string {
	if i := bytes.IndexByte(h.Comm[:], 0); i >= 0 {
		return string(h.Comm[:i])
	}
	return string(h.Comm[:])
}

// Truncated reports whether the read returned more than was captured.
func (h *Header) Truncated() bool { return h.ReadBytes > h.CapturedBytes }

// Decode parses one raw record. The data slice aliases raw.
func Decode(raw []byte) (Event, error) {
	var e Event
	if len(raw) < HeaderSize {
		return e, fmt.Errorf("event of %d bytes is shorter than its %d-byte header", len(raw), HeaderSize)
	}
	if _, err := binary.Decode(raw[:HeaderSize], binary.NativeEndian, &e.Header); err != nil {
		return e, fmt.Errorf("decoding event header: %w", err)
	}
	if e.Kind != KindRequest {
		return e, fmt.Errorf("event of unknown kind %d", e.Kind)
	}
	end := HeaderSize + int(e.CapturedBytes)
	if end > len(raw) {
		return e, fmt.Errorf("event claims %d captured bytes but carries %d", e.CapturedBytes, len(raw)-HeaderSize)
	}
	if e.CapturedBytes > e.ReadBytes {
		return e, fmt.Errorf("event claims %d captured bytes of a %d-byte read", e.CapturedBytes, e.ReadBytes)
	}
	e.Data = raw[HeaderSize:end]
	return e, nil
}
