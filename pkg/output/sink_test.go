package output

import (
	"io"
	"strings"
	"testing"
)

// countingWriter records the size of each Write call.
type countingWriter struct {
	writes []int
	err    error
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes = append(w.writes, len(p))
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

func TestSinkBuffering(t *testing.T) {
	for _, mk := range []struct {
		name string
		new  func(io.Writer, Clock) Sink
	}{{"json", NewJSON}, {"text", NewText}} {
		t.Run(mk.name, func(t *testing.T) {
			w := &countingWriter{}
			s := mk.new(w, NewClock(0))
			for range 10 {
				if err := s.Write(typical()); err != nil {
					t.Fatal(err)
				}
			}
			if len(w.writes) != 0 {
				t.Fatalf("%d writes before Flush", len(w.writes))
			}
			if err := s.Flush(); err != nil || len(w.writes) != 1 {
				t.Fatalf("Flush: %v, %d writes", err, len(w.writes))
			}
			if err := s.Flush(); err != nil || len(w.writes) != 1 {
				t.Fatalf("empty Flush wrote: %v, %d writes", err, len(w.writes))
			}
			// Past 64 KiB the sink writes by itself.
			w.writes = nil
			for range 2000 {
				if err := s.Write(typical()); err != nil {
					t.Fatal(err)
				}
			}
			if len(w.writes) == 0 {
				t.Fatal("no write after 2000 records")
			}
			for _, n := range w.writes {
				if n < flushBytes || n > flushBytes+4096 {
					t.Errorf("write of %d bytes, want about %d", n, flushBytes)
				}
			}
			w.err = io.ErrClosedPipe
			if err := s.Flush(); err == nil || !strings.Contains(err.Error(), "io: read/write on closed pipe") {
				t.Errorf("Flush error = %v", err)
			}
		})
	}
}

// BenchmarkSinks formats a typical exchange (six request headers).
func BenchmarkSinks(b *testing.B) {
	for _, bc := range []struct {
		name string
		new  func(io.Writer, Clock) Sink
	}{{"json", NewJSON}, {"text", NewText}} {
		b.Run(bc.name, func(b *testing.B) {
			s := bc.new(io.Discard, NewClock(0))
			e := typical()
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Write(e); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Flush(); err != nil {
				b.Fatal(err)
			}
		})
	}
}
