// The Sink interface and the write buffer every sink appends into.
package output

import (
	"fmt"
	"io"

	"github.com/httptrace/httptrace/pkg/record"
)

// Sink writes exchanges somewhere. Write formats one exchange into a buffer;
// Flush hands the buffer to the underlying writer. The pipeline calls Flush
// once per batch and on exit. A sink is used from one goroutine.
type Sink interface {
	Write(e *record.Exchange) error
	Flush() error
}

// sink formats exchanges into its buffer; NewJSON and NewText differ only
// in the format.
type sink struct {
	buffer
	clock  Clock
	stamp  stamp
	format func(b []byte, e *record.Exchange, s *sink) []byte
}

// Write implements Sink.
func (s *sink) Write(e *record.Exchange) error {
	s.buf = s.format(s.buf, e, s)
	return s.wrote()
}

// appendTime appends when e began in the sink's time layout.
func (s *sink) appendTime(b []byte, e *record.Exchange) []byte {
	return s.stamp.append(b, s.clock.Wall(startNs(e)))
}

// flushBytes is the buffer size past which Write flushes by itself, so a
// large batch does not hold everything in memory.
const flushBytes = 64 << 10

// buffer is the reused byte slice records are appended to, and the writer
// it drains into.
type buffer struct {
	w   io.Writer
	buf []byte
}

func newBuffer(w io.Writer) buffer {
	return buffer{w: w, buf: make([]byte, 0, flushBytes+4096)}
}

// wrote is called after each record: it flushes once the buffer is full.
func (b *buffer) wrote() error {
	if len(b.buf) >= flushBytes {
		return b.Flush()
	}
	return nil
}

// Flush writes out what is buffered. On error the buffered records are
// dropped rather than written twice later.
func (b *buffer) Flush() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	if err != nil {
		return fmt.Errorf("writing records: %w", err)
	}
	return nil
}

// startNs is when an exchange began: its request's first byte, or for an
// unmatched response (no request seen) the response's first byte.
func startNs(e *record.Exchange) uint64 {
	if e.RequestStartNs != 0 {
		return e.RequestStartNs
	}
	return e.ResponseStartNs
}
