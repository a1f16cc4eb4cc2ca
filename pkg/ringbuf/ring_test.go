// Pure-Go tests of header decoding and the read loop over a ring in Go memory.
package ringbuf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestDecodeHeader(t *testing.T) {
	tests := []struct {
		word uint32
		want header
	}{
		{0, header{}},
		{5, header{length: 5}},
		{flagBusy | 5, header{length: 5, busy: true}},
		{flagDiscard | 40, header{length: 40, discard: true}},
		{flagBusy | flagDiscard | 7, header{length: 7, busy: true, discard: true}},
		{0x3fffffff, header{length: 0x3fffffff}},
	}
	for _, tt := range tests {
		if got := decodeHeader(tt.word); got != tt.want {
			t.Errorf("decodeHeader(%#x) = %+v, want %+v", tt.word, got, tt.want)
		}
	}
}

func TestSpan(t *testing.T) {
	tests := []struct {
		length uint32
		want   uint64
	}{
		{0, 8}, {1, 16}, {7, 16}, {8, 16}, {9, 24}, {16, 24}, {17, 32},
		{lengthMask, (uint64(lengthMask) + 8 + 7) &^ 7},
	}
	for _, tt := range tests {
		if got := span(tt.length); got != tt.want {
			t.Errorf("span(%d) = %d, want %d", tt.length, got, tt.want)
		}
	}
}

func TestEpollTimeout(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want int
	}{
		{-1, -1}, {0, 0}, {time.Nanosecond, 1}, {time.Millisecond, 1},
		{1500 * time.Microsecond, 2}, {time.Second, 1000}, {1 << 62, 1<<31 - 1},
	}
	for _, tt := range tests {
		if got := epollTimeout(tt.d); got != tt.want {
			t.Errorf("epollTimeout(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}

// fakeRing is a ring in Go memory written the way the kernel writes it,
// the data area mirrored as the double mapping would show it.
type fakeRing struct {
	ring
	cons, prod uintptr
}

func newFakeRing(size, start uintptr) *fakeRing {
	f := &fakeRing{cons: start, prod: start}
	f.ring = ring{consumer: &f.cons, producer: &f.prod, data: make([]byte, 2*size), mask: size - 1}
	return f
}

// write stores b at ring position pos in both copies.
func (f *fakeRing) write(pos uintptr, b []byte) {
	for i, c := range b {
		p := (pos + uintptr(i)) & f.mask
		f.data[p], f.data[p+f.size()] = c, c
	}
}

// put appends a record: flags plus the payload's length (or length when
// not 0, for corrupt headers), then the payload.
func (f *fakeRing) put(flags uint32, length int, payload []byte) {
	if length == 0 {
		length = len(payload)
	}
	var hdr [headerSize]byte
	binary.NativeEndian.PutUint32(hdr[:], flags|uint32(length))
	f.write(f.prod, hdr[:])
	f.write(f.prod+headerSize, payload)
	f.prod += uintptr(span(uint32(len(payload))))
}

func payload(seq, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seq*7 + i)
	}
	return b
}

// rec is one record a test case writes.
type rec struct {
	flags  uint32
	length int // header length when not 0, else the payload's
	n      int // payload bytes
}

func TestRingRead(t *testing.T) {
	const size = 256
	tests := []struct {
		name    string
		start   uintptr // consumer and producer position before writing
		recs    []rec
		stopAt  int   // fn returns false on this record (1-based); 0 never
		want    []int // indexes into recs of the records fn must see
		wantErr error
		// wantCons is how far the consumer moves; -1 means to the producer.
		wantCons int
	}{
		{name: "empty", wantCons: -1},
		{name: "three", recs: []rec{{n: 1}, {n: 8}, {n: 0}}, want: []int{0, 1, 2}, wantCons: -1},
		{name: "discarded skipped", recs: []rec{{n: 3}, {flags: flagDiscard, n: 20}, {n: 4}},
			want: []int{0, 2}, wantCons: -1},
		{name: "busy stops", recs: []rec{{n: 3}, {flags: flagBusy, n: 20}, {n: 4}},
			want: []int{0}, wantCons: 16},
		{name: "busy first", recs: []rec{{flags: flagBusy, n: 20}, {n: 4}}, wantCons: 0},
		{name: "wraps around the end", start: 3*size - 24, recs: []rec{{n: 40}, {n: 100}},
			want: []int{0, 1}, wantCons: -1},
		{name: "header at the last word", start: size - 8, recs: []rec{{n: 13}}, want: []int{0}, wantCons: -1},
		{name: "full ring", recs: []rec{{n: 120}, {n: 120}}, want: []int{0, 1}, wantCons: -1},
		{name: "stop early", recs: []rec{{n: 1}, {n: 2}, {n: 3}}, stopAt: 2, want: []int{0, 1}, wantCons: 32},
		{name: "length past the producer", recs: []rec{{n: 5}, {length: 200, n: 16}},
			want: []int{0}, wantErr: ErrCorrupt, wantCons: 16},
		{name: "length past the ring", recs: []rec{{length: int(lengthMask), n: 16}},
			wantErr: ErrCorrupt, wantCons: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeRing(size, tt.start)
			for i, r := range tt.recs {
				f.put(r.flags, r.length, payload(i, r.n))
			}
			var got [][]byte
			n, err := f.read(func(b []byte) bool {
				got = append(got, append([]byte(nil), b...))
				return len(got) != tt.stopAt
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if n != len(tt.want) || len(got) != len(tt.want) {
				t.Fatalf("read %d records (fn saw %d), want %d", n, len(got), len(tt.want))
			}
			for i, idx := range tt.want {
				if want := payload(idx, tt.recs[idx].n); !bytes.Equal(got[i], want) {
					t.Errorf("record %d = %x, want %x", i, got[i], want)
				}
			}
			wantCons := tt.start + uintptr(tt.wantCons)
			if tt.wantCons < 0 {
				wantCons = f.prod
			}
			if f.cons != wantCons {
				t.Errorf("consumer at %d, want %d", f.cons, wantCons)
			}
			if p := f.pending(); p != uint64(f.prod-f.cons) {
				t.Errorf("pending = %d, want %d", p, f.prod-f.cons)
			}
		})
	}
}

func TestRingReadPendingPastSize(t *testing.T) {
	f := newFakeRing(256, 0)
	f.prod = 512
	n, err := f.read(func([]byte) bool { t.Error("fn called on a corrupt ring"); return true })
	if n != 0 || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read = %d, %v; want 0, %v", n, err, ErrCorrupt)
	}
	if f.cons != 0 {
		t.Errorf("consumer moved to %d", f.cons)
	}
}

// BenchmarkReadMemory is the read loop alone over a full ring in Go memory:
// what Read costs per record without the kernel.
func BenchmarkReadMemory(b *testing.B) {
	for _, n := range []int{16, 64, 256} {
		b.Run(fmt.Sprint(n, "B"), func(b *testing.B) {
			const size = 1 << 20
			f := newFakeRing(size, 0)
			p := payload(1, n)
			for f.prod+uintptr(span(uint32(n))) <= size {
				f.put(0, 0, p)
			}
			full := f.prod
			var sum, records int
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f.cons = 0
				got, err := f.read(func(rec []byte) bool { sum += len(rec); return true })
				if err != nil || f.cons != full {
					b.Fatalf("read %d records to %d: %v", got, f.cons, err)
				}
				records += got
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(records), "ns/record")
		})
	}
}

// TestRingReleasesAsItReads: a batch longer than releaseBytes gives the
// kernel back what it has read while fn still runs, never a record fn is
// still in.
func TestRingReleasesAsItReads(t *testing.T) {
	const size = 1 << 20
	f := newFakeRing(size, 0)
	const recBytes = 4096 - headerSize
	for i := 0; i < 3*releaseBytes/4096; i++ {
		f.put(0, 0, payload(i, recBytes))
	}
	var seen int
	var releasedDuring uintptr
	_, err := f.read(func(b []byte) bool {
		start := uintptr(seen) * 4096
		if f.cons > start {
			t.Fatalf("record %d at %d: consumer already at %d", seen, start, f.cons)
		}
		releasedDuring = max(releasedDuring, f.cons)
		seen++
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if releasedDuring < releaseBytes || f.cons != f.prod {
		t.Errorf("released %d while reading (want >= %d), %d at the end (want %d)", releasedDuring, releaseBytes, f.cons, f.prod)
	}
}
