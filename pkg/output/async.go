// A writer that writes from a goroutine of its own, so that output that
// blocks does not stall whoever hands it bytes.
package output

import (
	"io"
	"sync"
)

// AsyncWriter queues what it is given and writes it to the underlying
// writer from its own goroutine, in order. The pipeline hands its sinks'
// buffers to one, so a stdout that blocks (a pipe whose reader stalls) does
// not stop it from draining the ring buffer. At most maxBytes wait; past
// that Write waits too (counted in Waits), the ring fills, and the kernel
// side counts what it then drops.
type AsyncWriter struct {
	w        io.Writer
	maxBytes int

	mu       sync.Mutex
	notEmpty sync.Cond
	notFull  sync.Cond
	queue    [][]byte
	queued   int      // bytes in queue
	free     [][]byte // written buffers kept for reuse
	closed   bool
	err      error // the underlying writer's first error
	waits    uint64
	done     chan struct{}
}

// maxFree bounds the buffers kept for reuse: enough that a burst the writer
// falls behind on does not allocate them anew each time (at most about 4 MiB
// kept).
const maxFree = 64

// NewAsyncWriter starts writing to w, with up to maxBytes waiting.
func NewAsyncWriter(w io.Writer, maxBytes int) *AsyncWriter {
	a := &AsyncWriter{w: w, maxBytes: maxBytes, done: make(chan struct{})}
	a.notEmpty.L, a.notFull.L = &a.mu, &a.mu
	go a.run()
	return a
}

// run writes each queued buffer in turn; after an error it drops what is
// queued (it would come out of order with what was lost).
func (a *AsyncWriter) run() {
	defer close(a.done)
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		for len(a.queue) == 0 && !a.closed {
			a.notEmpty.Wait()
		}
		if len(a.queue) == 0 {
			return
		}
		b := a.queue[0]
		// Shift rather than reslice, so the queue keeps its room (the
		// queue holds few buffers).
		n := copy(a.queue, a.queue[1:])
		a.queue[n] = nil
		a.queue = a.queue[:n]
		failed := a.err != nil
		a.mu.Unlock()
		var err error
		if !failed {
			_, err = a.w.Write(b)
		}
		a.mu.Lock()
		if err != nil && a.err == nil {
			a.err = err
		}
		a.queued -= len(b)
		if len(a.free) < maxFree {
			a.free = append(a.free, b[:0])
		}
		a.notFull.Broadcast()
	}
}

// Write queues a copy of p, waiting while maxBytes are already queued. It
// returns the underlying writer's first error, once there has been one.
func (a *AsyncWriter) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	waited := false
	for a.err == nil && a.queued > 0 && a.queued+len(p) > a.maxBytes {
		if !waited {
			a.waits++
			waited = true
		}
		a.notFull.Wait()
	}
	if a.err != nil {
		return 0, a.err
	}
	var b []byte
	if n := len(a.free); n > 0 {
		b, a.free = a.free[n-1], a.free[:n-1]
	}
	if cap(b) < len(p) {
		// Room for a whole sink buffer, so that one buffer serves every
		// flush and the steady state allocates nothing.
		b = make([]byte, 0, max(len(p), flushBytes+4096))
	}
	b = append(b, p...)
	a.queue = append(a.queue, b)
	a.queued += len(b)
	a.notEmpty.Signal()
	return len(p), nil
}

// Close writes out what is queued, stops the goroutine and returns the
// underlying writer's first error. Write must not be called after it.
func (a *AsyncWriter) Close() error {
	a.mu.Lock()
	a.closed = true
	a.notEmpty.Signal()
	a.mu.Unlock()
	<-a.done
	return a.err
}

// Waits is how many Writes found the queue full and waited.
func (a *AsyncWriter) Waits() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.waits
}
