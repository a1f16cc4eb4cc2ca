// Reader against the kernel: stopping early, bad maps, Close, allocations, speed.
package ringbuf_test

import (
	"encoding/binary"
	"errors"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/httptrace/httptrace/pkg/ringbuf"
	"github.com/httptrace/httptrace/pkg/ringbuf/internal/ringtest"
)

func TestReadWhile(t *testing.T) {
	_, r := open(t, 16<<10)
	ringtest.Fill(5)
	rec := span(ringtest.FixedLen)
	var seqs []uint64
	collect := func(stopAfter int) func([]byte) bool {
		return func(b []byte) bool {
			seqs = append(seqs, binary.NativeEndian.Uint64(b))
			return len(seqs) != stopAfter
		}
	}
	steps := []struct {
		stopAfter int // fn returns false once it has seen this many in all
		want      int
		pending   uint64
	}{
		{stopAfter: 2, want: 2, pending: 3 * rec},
		{stopAfter: 3, want: 1, pending: 2 * rec},
		{stopAfter: 0, want: 2, pending: 0},
		{stopAfter: 0, want: 0, pending: 0},
	}
	for i, s := range steps {
		n, err := r.ReadWhile(collect(s.stopAfter))
		if err != nil || n != s.want {
			t.Fatalf("step %d: ReadWhile = %d, %v; want %d", i, n, err, s.want)
		}
		if p := r.Pending(); p != s.pending {
			t.Errorf("step %d: %d bytes pending, want %d", i, p, s.pending)
		}
	}
	for i, seq := range seqs {
		if seq != uint64(i) {
			t.Errorf("record %d has sequence %d", i, seq)
		}
	}
	if len(seqs) != 5 {
		t.Errorf("read %d records, want 5", len(seqs))
	}
	if _, err := r.ReadWhile(nil); err == nil {
		t.Error("ReadWhile(nil) returned no error")
	}
}

func TestNewReaderRejects(t *testing.T) {
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pipe[0])
	defer unix.Close(pipe[1])
	tests := []struct {
		name string
		fd   func(t *testing.T) int
	}{
		{"closed fd", func(*testing.T) int { return -1 }},
		{"not a BPF object", func(*testing.T) int { return pipe[0] }},
		{"array map", func(t *testing.T) int {
			obj, _ := open(t, 16<<10)
			return obj.CountsFD
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ringbuf.NewReader(tt.fd(t))
			if err == nil {
				r.Close()
				t.Fatal("NewReader returned no error")
			}
			t.Log(err)
		})
	}
}

func TestClose(t *testing.T) {
	obj, r := open(t, 16<<10)
	ringtest.Fill(3)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"Read", func() error { _, err := r.Read(nil); return err }},
		{"ReadWhile", func() error { _, err := r.ReadWhile(func([]byte) bool { return true }); return err }},
		{"Wait", func() error { return r.Wait(time.Second) }},
		{"Wake", r.Wake},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, ringbuf.ErrClosed) {
			t.Errorf("%s after Close: %v, want %v", c.name, err, ringbuf.ErrClosed)
		}
	}
	if p := r.Pending(); p != 0 {
		t.Errorf("Pending after Close = %d", p)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// The map fd stays the caller's, and still reads.
	r2, err := ringbuf.NewReader(obj.EventsFD)
	if err != nil {
		t.Fatalf("map fd unusable after Close: %v", err)
	}
	defer r2.Close()
	if n, err := r2.Read(nil); err != nil || n != 3 {
		t.Errorf("a new Reader read %d records (%v), want 3", n, err)
	}
}

// TestReadAllocs asserts what BenchmarkRead measures: a full ring read
// without a single allocation.
func TestReadAllocs(t *testing.T) {
	_, r := open(t, 64<<10)
	var bytes int
	fn := func(rec []byte) { bytes += len(rec) }
	allocs := testing.AllocsPerRun(20, func() {
		ringtest.Fill(1 << 20)
		if _, err := r.Read(fn); err != nil {
			t.Fatal(err)
		}
		if err := r.Wait(0); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per full ring, want 0", allocs)
	}
	if bytes == 0 {
		t.Error("read nothing")
	}
}

// BenchmarkRead fills a 1 MiB ring from the kernel (about 18,700 records of
// 48 bytes) and reads it; ns/record times Read alone.
func BenchmarkRead(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("loading BPF programs needs root")
	}
	_, r := open(b, 1<<20)
	var sum, records int
	var reading time.Duration
	fn := func(rec []byte) { sum += len(rec) }
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ringtest.Fill(1 << 20)
		start := time.Now()
		n, err := r.Read(fn)
		reading += time.Since(start)
		if err != nil || n == 0 {
			b.Fatalf("read %d records: %v", n, err)
		}
		records += n
	}
	b.ReportMetric(float64(reading.Nanoseconds())/float64(records), "ns/record")
	b.ReportMetric(float64(records)/float64(b.N), "records/op")
}
