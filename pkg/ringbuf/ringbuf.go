// Package ringbuf reads a BPF ring buffer map (BPF_MAP_TYPE_RINGBUF) from
// its shared memory, with no cgo and no allocation per record.
//
// The layout is the kernel's (Documentation/bpf/ringbuf.rst): a consumer
// page user space writes, then a read-only producer page followed by the
// data area mapped twice, so a record that wraps around reads as one slice.
package ringbuf

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ErrClosed is returned by every method called after Close.
var ErrClosed = errors.New("ring buffer reader closed")

// Reader reads one ring buffer map. Read, ReadWhile, Wait and Close belong
// to one goroutine; Wake, Pending and Size may be called from any goroutine
// until Close.
type Reader struct {
	ring
	consumerPage []byte // the consumer page, mapped read-write
	producerArea []byte // the producer page and the data area twice, read-only

	epollFD int
	eventFD int
	events  [2]unix.EpollEvent // Wait's result buffer, kept to avoid allocating
	drain   [8]byte            // Wait reads the eventfd counter into it

	mu     sync.Mutex  // orders Wake against Close
	closed atomic.Bool // set by Close, under mu
}

// NewReader maps the ring buffer map with this fd (BPF_MAP_TYPE_RINGBUF; its
// size from the map's info). The caller keeps the fd open while the Reader
// is in use and closes it after Close.
func NewReader(mapFD int) (*Reader, error) {
	info, err := getMapInfo(mapFD)
	if err != nil {
		return nil, err
	}
	if info.Type != unix.BPF_MAP_TYPE_RINGBUF {
		return nil, fmt.Errorf("map %q has type %d, not a ring buffer (%d)",
			info.name(), info.Type, unix.BPF_MAP_TYPE_RINGBUF)
	}
	page := os.Getpagesize()
	size := int(info.MaxEntries)
	if size <= 0 || size&(size-1) != 0 || size%page != 0 || size > (math.MaxInt-page)/2 {
		return nil, fmt.Errorf("ring buffer %q has an unusable size of %d bytes", info.name(), info.MaxEntries)
	}
	r := &Reader{epollFD: -1, eventFD: -1}
	if err := r.mapRing(mapFD, page, size); err != nil {
		r.Close()
		return nil, fmt.Errorf("mapping ring buffer %q: %w", info.name(), err)
	}
	if err := r.openWait(mapFD); err != nil {
		r.Close()
		return nil, fmt.Errorf("polling ring buffer %q: %w", info.name(), err)
	}
	return r, nil
}

// mapRing maps the consumer page, then the producer page with the data
// area twice after it, as the kernel lays them out at page offsets.
func (r *Reader) mapRing(mapFD, page, size int) error {
	var err error
	r.consumerPage, err = unix.Mmap(mapFD, 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("consumer page: %w", err)
	}
	r.producerArea, err = unix.Mmap(mapFD, int64(page), page+2*size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("producer page and data: %w", err)
	}
	r.ring = ring{
		consumer: (*uintptr)(unsafe.Pointer(&r.consumerPage[0])),
		producer: (*uintptr)(unsafe.Pointer(&r.producerArea[0])),
		data:     r.producerArea[page:],
		mask:     uintptr(size - 1),
	}
	return nil
}

// Read calls fn for every committed record now in the ring, in order,
// skipping discarded ones, and then releases them all at once (consumer
// position stored after the batch). rec is valid only during fn: the kernel
// may overwrite it once Read returns. It returns the number of records. It
// stops early at a record still being written (BUSY) and continues from
// there next time. A nil fn drops the records.
func (r *Reader) Read(fn func(rec []byte)) (int, error) {
	if r.closed.Load() {
		return 0, ErrClosed
	}
	if fn == nil {
		return r.ring.read(func([]byte) bool { return true })
	}
	return r.ring.read(func(rec []byte) bool { fn(rec); return true })
}

// ReadWhile is Read with a way to stop: when fn returns false, the batch
// ends after that record, which counts as read and is released with the
// ones before it; the records after it stay for the next call.
func (r *Reader) ReadWhile(fn func(rec []byte) bool) (int, error) {
	if r.closed.Load() {
		return 0, ErrClosed
	}
	if fn == nil {
		return 0, errors.New("reading ring buffer: nil function")
	}
	return r.ring.read(fn)
}

// Pending is the number of bytes written but not yet consumed, record
// headers and padding included; 0 after Close. Safe from any goroutine.
func (r *Reader) Pending() uint64 {
	if r.closed.Load() {
		return 0
	}
	return r.ring.pending()
}

// Size is the data area size in bytes.
func (r *Reader) Size() int { return int(r.ring.size()) }

// Close unmaps the ring and closes the epoll and event fds, not the map fd.
// It must not run while Read or Wait does; stop a blocked Wait with Wake
// first.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Swap(true) {
		return nil
	}
	var errs []error
	for _, m := range [][]byte{r.consumerPage, r.producerArea} {
		if m != nil {
			if err := unix.Munmap(m); err != nil {
				errs = append(errs, fmt.Errorf("unmapping ring buffer: %w", err))
			}
		}
	}
	for _, fd := range []int{r.epollFD, r.eventFD} {
		if fd >= 0 {
			if err := unix.Close(fd); err != nil {
				errs = append(errs, fmt.Errorf("closing ring buffer reader fd: %w", err))
			}
		}
	}
	r.consumerPage, r.producerArea = nil, nil
	return errors.Join(errs...)
}
