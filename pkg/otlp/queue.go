// The way from Write to the worker: spans gather in chunks, one service's
// each, and chunks wait in a bounded queue. The worker is woken only when
// a batch's worth waits (else its ticker takes what waits), not once for
// every record or every Flush.
package otlp

import (
	"strings"
	"sync"
	"time"

	"github.com/httptrace/httptrace/pkg/record"
)

// chunk is spans of one service, each an entry of ScopeSpans.spans.
type chunk struct {
	service string
	spans   []byte
	n       int
	at      int // its place in Exporter.order
}

// queue is the chunks waiting for the worker, in the order they came,
// with their spans and their buffers' bytes.
type queue struct {
	mu           sync.Mutex
	chunks       []*chunk
	spans, bytes int
}

// Write implements output.Sink: the exchange's span joins its service's
// chunk, and a full chunk the queue.
func (x *Exporter) Write(e *record.Exchange) error {
	if x.closed {
		x.drop(1, nil)
		return nil
	}
	svc := x.opts.Service(e)
	c := x.open[svc]
	if c == nil {
		c = x.chunk(strings.Clone(svc), len(x.order))
		x.open[c.service] = c
		x.order = append(x.order, c)
	}
	c.spans = x.appendSpan(c.spans, e)
	c.n++
	if c.n >= x.chunkMax || len(c.spans) >= chunkBytes {
		x.enqueue(c)
		c = x.chunk(c.service, c.at)
		x.open[c.service], x.order[c.at] = c, c
	}
	return nil
}

// Flush implements output.Sink: the chunks begun join the queue, for the
// worker to send within batchEvery.
func (x *Exporter) Flush() error {
	for _, c := range x.order {
		if c.n > 0 {
			x.enqueue(c)
		} else {
			x.release(c)
		}
	}
	clear(x.open)
	clear(x.order)
	x.order = x.order[:0]
	return nil
}

// chunk is an empty chunk of service, at its place in x.order.
func (x *Exporter) chunk(service string, at int) *chunk {
	var c *chunk
	select {
	case c = <-x.free:
	default:
		c = &chunk{spans: make([]byte, 0, 1<<10)} // a span or two
	}
	c.service, c.spans, c.n, c.at = service, c.spans[:0], 0, at
	return c
}

// release keeps c for reuse, unless enough are kept or its buffer is
// larger than a chunk's.
func (x *Exporter) release(c *chunk) {
	if cap(c.spans) > 2*chunkBytes {
		return
	}
	select {
	case x.free <- c:
	default:
	}
}

// enqueue puts c in the queue, or drops and counts its spans when they
// would overfill it (opts.Queue spans, queueBytes bytes); it wakes the
// worker when a batch's worth waits.
func (x *Exporter) enqueue(c *chunk) {
	q := &x.queue
	q.mu.Lock()
	if q.spans+c.n > x.opts.Queue || q.bytes+cap(c.spans) > queueBytes {
		q.mu.Unlock()
		x.drop(uint64(c.n), nil)
		x.release(c)
		return
	}
	q.chunks = append(q.chunks, c)
	q.spans += c.n
	q.bytes += cap(c.spans)
	full := q.spans >= min(batchMax, x.opts.Queue)
	q.mu.Unlock()
	if full {
		select {
		case x.wake <- struct{}{}:
		default: // woken already
		}
	}
}

// take moves a batch's worth of chunks from the queue to x.batch (the
// spans stay counted in the queue until then) and says whether more
// wait.
func (x *Exporter) take() bool {
	q := &x.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	i := 0
	for ; i < len(q.chunks) && x.batchSpans < batchMax; i++ {
		c := q.chunks[i]
		x.batch = append(x.batch, c)
		x.batchSpans += c.n
		q.spans -= c.n
		q.bytes -= cap(c.spans)
	}
	n := copy(q.chunks, q.chunks[i:])
	clear(q.chunks[n:])
	q.chunks = q.chunks[:n]
	return n > 0
}

// run sends what waits, a batch at a time, when woken, every batchEvery,
// and once more when Close stops it.
func (x *Exporter) run() {
	defer close(x.done)
	tick := time.NewTicker(batchEvery)
	defer tick.Stop()
	for {
		last := false
		select {
		case <-x.wake:
		case <-tick.C:
		case <-x.stop:
			last = true
		}
		for more := true; more; {
			more = x.take()
			x.send()
		}
		if last {
			return
		}
	}
}

// waiting is how many spans the queue holds.
func (x *Exporter) waiting() int {
	x.queue.mu.Lock()
	defer x.queue.mu.Unlock()
	return x.queue.spans
}
