// The consumer side of the ring's memory: record headers and the read loop.
package ringbuf

import (
	"errors"
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The record header the kernel writes before every record: a u32 length
// whose two top bits are flags, then a u32 page offset only the kernel uses.
const (
	headerSize  = unix.BPF_RINGBUF_HDR_SZ
	flagBusy    = unix.BPF_RINGBUF_BUSY_BIT    // reserved, not yet submitted or discarded
	flagDiscard = unix.BPF_RINGBUF_DISCARD_BIT // submitted as discarded: skip it
	lengthMask  = ^uint32(flagBusy | flagDiscard)
)

// ErrCorrupt says a record header or a position in the ring cannot be what
// the kernel wrote. Records before it were delivered and released.
var ErrCorrupt = errors.New("ring buffer corrupt")

// header is a decoded record header.
type header struct {
	length  uint32 // payload bytes, without the header
	busy    bool
	discard bool
}

// decodeHeader splits the header's first word into length and flags.
func decodeHeader(word uint32) header {
	return header{
		length:  word & lengthMask,
		busy:    word&flagBusy != 0,
		discard: word&flagDiscard != 0,
	}
}

// span is how far the record moves the consumer position: header and
// payload, rounded up to 8 bytes as the kernel reserves it.
func span(length uint32) uint64 {
	return (uint64(length) + headerSize + 7) &^ 7
}

// ring is the shared memory of one ring buffer.
type ring struct {
	consumer *uintptr // consumer_pos, an unsigned long only user space writes
	producer *uintptr // producer_pos, an unsigned long only the kernel writes
	// data is the data area mapped twice in a row, so a record that wraps
	// around the end still reads as one slice.
	data []byte
	mask uintptr // data area size - 1; the size is a power of two
}

// size is the data area size in bytes.
func (r *ring) size() uintptr { return r.mask + 1 }

// pending is the number of bytes written and not yet released.
func (r *ring) pending() uint64 {
	return uint64(atomic.LoadUintptr(r.producer) - atomic.LoadUintptr(r.consumer))
}

// releaseBytes is how much a batch consumes before it releases that much to
// the kernel, so that a long batch (whose records may take a while: a sink
// that blocks) does not keep the kernel from the space it has read. Each
// release is one store to a line the producers read.
const releaseBytes = 64 << 10

// read hands every committed record between the consumer and the producer
// position to fn, in order, until fn returns false, a record is still busy,
// or the batch ends, releasing what it passed every releaseBytes and at the
// end with a store of the consumer position. A record's bytes are valid
// only during its call. It returns the number of records fn saw.
func (r *ring) read(fn func(rec []byte) bool) (int, error) {
	// Only this side writes the consumer position; the acquire-load of the
	// producer position orders every header read after it.
	first := atomic.LoadUintptr(r.consumer)
	cons := first
	prod := atomic.LoadUintptr(r.producer)
	if prod-cons > r.size() {
		return 0, fmt.Errorf("%w: %d bytes pending in a %d-byte ring", ErrCorrupt, prod-cons, r.size())
	}
	var n int
	var err error
	base := unsafe.Pointer(unsafe.SliceData(r.data))
	for cons < prod {
		off := cons & r.mask
		// The acquire-load of the length makes the payload, written before
		// the kernel cleared BUSY, visible.
		h := decodeHeader(atomic.LoadUint32((*uint32)(unsafe.Add(base, off))))
		if h.busy {
			break
		}
		step := uintptr(span(h.length))
		if step > prod-cons {
			err = fmt.Errorf("%w: a %d-byte record at position %d passes the producer at %d",
				ErrCorrupt, h.length, cons, prod)
			break
		}
		cons += step
		if h.discard {
			continue
		}
		n++
		// off+step <= off+size <= 2*size: the slice stays in the mapping.
		start := off + headerSize
		end := start + uintptr(h.length)
		if !fn(r.data[start:end:end]) {
			break
		}
		if cons-first >= releaseBytes {
			atomic.StoreUintptr(r.consumer, cons)
			first = cons
		}
	}
	// Release the rest: the kernel may now overwrite it.
	if cons != first {
		atomic.StoreUintptr(r.consumer, cons)
	}
	return n, err
}
