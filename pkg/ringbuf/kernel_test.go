// Tests against the kernel: testdata/ringtest.bpf.c writes, the Reader reads (as root).
package ringbuf_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/ringbuf"
	"github.com/httptrace/httptrace/pkg/ringbuf/internal/ringtest"
)

// objPath is the test program, compiled once by TestMain when run as root.
var objPath string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "ringtest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if objPath, err = ringtest.Build("../..", dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// open loads the test program with a ring of size bytes and a Reader on it.
func open(tb testing.TB, size uint32) (*ringtest.Object, *ringbuf.Reader) {
	tb.Helper()
	if os.Geteuid() != 0 {
		tb.Skip("loading BPF programs needs root")
	}
	obj, err := ringtest.Load(objPath, size)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(obj.Close)
	r, err := ringbuf.NewReader(obj.EventsFD)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := r.Close(); err != nil {
			tb.Error(err)
		}
	})
	if r.Size() != int(size) {
		tb.Fatalf("Size() = %d, want %d", r.Size(), size)
	}
	return obj, r
}

func counts(tb testing.TB, obj *ringtest.Object) ringtest.Counts {
	tb.Helper()
	c, err := obj.Counts()
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// span is the ring space a record of n payload bytes takes.
func span(n int) uint64 { return uint64(n+8+7) &^ 7 }

// plan says how attempt a writes its record and how long the payload is:
// mostly variable-length output without wakeup, some with, some reserved
// and submitted, some reserved and discarded.
func plan(a uint64) (ringtest.Mode, int) {
	switch a % 10 {
	case 3:
		return ringtest.Discard, ringtest.FixedLen
	case 6:
		return ringtest.Submit, ringtest.FixedLen
	case 9:
		return ringtest.Output, length(a)
	}
	return ringtest.OutputNoWakeup, length(a)
}

// length spreads attempts over 16..MaxLen bytes, every alignment.
func length(a uint64) int {
	return 16 + int((a*2654435761>>8)%(ringtest.MaxLen-15))
}

func patternByte(a uint64, i int) byte { return byte(a*31 + uint64(i)*7) }

// send makes attempt a: its number at bytes 8..16, the pattern after; the
// program puts the sequence number in bytes 0..8.
func send(buf []byte, a uint64) {
	mode, n := plan(a)
	p := buf[:n]
	binary.NativeEndian.PutUint64(p[8:], a)
	for i := 16; i < n; i++ {
		p[i] = patternByte(a, i)
	}
	ringtest.Send(mode, p)
}

// checker follows the records a Reader delivers: sequence numbers without
// gaps, attempts rising, never a discarded one, length and payload intact.
type checker struct {
	tb      testing.TB
	next    uint64 // sequence number of the next record
	last    int64  // attempt of the last record
	bytes   uint64 // ring space of the records seen
	reports int
}

func newChecker(tb testing.TB) *checker { return &checker{tb: tb, last: -1} }

func (c *checker) fail(format string, args ...any) {
	if c.reports++; c.reports <= 10 {
		c.tb.Errorf(format, args...)
	}
}

func (c *checker) check(rec []byte) {
	c.bytes += span(len(rec))
	if len(rec) < 16 {
		c.fail("record %d is %d bytes", c.next, len(rec))
		return
	}
	seq := binary.NativeEndian.Uint64(rec)
	a := binary.NativeEndian.Uint64(rec[8:])
	if seq != c.next {
		c.fail("sequence %d, want %d", seq, c.next)
	}
	c.next = seq + 1
	if int64(a) <= c.last {
		c.fail("record %d: attempt %d after %d", seq, a, c.last)
	}
	c.last = int64(a)
	mode, n := plan(a)
	if mode == ringtest.Discard {
		c.fail("record %d: attempt %d was discarded", seq, a)
	}
	if len(rec) != n {
		c.fail("record %d (attempt %d) is %d bytes, want %d", seq, a, len(rec), n)
		return
	}
	for i := 16; i < n; i++ {
		if rec[i] != patternByte(a, i) {
			c.fail("record %d (attempt %d): byte %d is %#x, want %#x", seq, a, i, rec[i], patternByte(a, i))
			return
		}
	}
}

func (c *checker) read(r *ringbuf.Reader) int {
	n, err := r.Read(c.check)
	if err != nil {
		c.tb.Fatal(err)
	}
	return n
}

// TestReadInOrderAcrossWraps writes 100k records into a 16 KiB ring,
// reading whenever the next could not fit, so none is lost.
func TestReadInOrderAcrossWraps(t *testing.T) {
	const size, attempts = 16 << 10, 100_000
	obj, r := open(t, size)
	c := newChecker(t)
	buf := make([]byte, ringtest.MaxLen)
	var records, reads int
	for a := uint64(0); a < attempts; a++ {
		// The kernel keeps what is pending below the ring's size.
		if _, n := plan(a); r.Pending()+span(n) >= size {
			records += c.read(r)
			reads++
		}
		send(buf, a)
	}
	records += c.read(r)
	got := counts(t, obj)
	discarded := uint64(attempts / 10)
	want := ringtest.Counts{Committed: attempts - discarded, Discarded: discarded}
	if got != want {
		t.Errorf("program counts %+v, want %+v", got, want)
	}
	if uint64(records) != want.Committed || c.next != want.Committed {
		t.Errorf("read %d records up to sequence %d, want %d", records, c.next, want.Committed)
	}
	if p := r.Pending(); p != 0 {
		t.Errorf("%d bytes pending after the last read", p)
	}
	if wraps := c.bytes / size; wraps < 1000 {
		t.Errorf("the ring wrapped %d times, want at least 1000", wraps)
	}
	t.Logf("%d records, %d reads, %d wraps", records, reads, c.bytes/size)
}

// TestReadConcurrentWriter reads while another thread writes, so records
// are caught busy and the ring may fill; what was committed must arrive.
func TestReadConcurrentWriter(t *testing.T) {
	const size, attempts = 16 << 10, 20_000
	obj, r := open(t, size)
	var done atomic.Bool
	finished := make(chan struct{})
	// The writer reads Pending: it must stop before the Reader closes.
	defer func() { <-finished }()
	go func() {
		defer close(finished)
		defer done.Store(true)
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		buf := make([]byte, ringtest.MaxLen)
		for a := uint64(0); a < attempts; a++ {
			// Mostly stay ahead of a full ring, without waiting for the reader.
			for i := 0; r.Pending() > size/2 && i < 100; i++ {
				runtime.Gosched()
			}
			send(buf, a)
		}
	}()
	c := newChecker(t)
	var records, reads int
	for !done.Load() {
		if err := r.Wait(time.Millisecond); err != nil {
			t.Fatal(err)
		}
		records += c.read(r)
		reads++
	}
	records += c.read(r)
	got := counts(t, obj)
	if got.Rejected != 0 {
		t.Errorf("%d requests rejected", got.Rejected)
	}
	if sum := got.Committed + got.Discarded + got.OutputFailed + got.ReserveFailed; sum != attempts {
		t.Errorf("counts %+v add up to %d, want %d", got, sum, attempts)
	}
	if uint64(records) != got.Committed || c.next != got.Committed {
		t.Errorf("read %d records up to sequence %d, want %d", records, c.next, got.Committed)
	}
	t.Logf("%d records in %d reads; refused: %d output, %d reserve",
		records, reads, got.OutputFailed, got.ReserveFailed)
}

// TestFullRing fills the ring without reading: the kernel refuses what does
// not fit, and everything that did arrives intact.
func TestFullRing(t *testing.T) {
	const size = 16 << 10
	obj, r := open(t, size)

	// Fixed-size records fill it exactly.
	ringtest.Fill(1 << 20)
	fits := uint64(size / span(ringtest.FixedLen))
	if got := counts(t, obj); got.Committed != fits || got.OutputFailed != 1 {
		t.Fatalf("fill: counts %+v, want %d committed and 1 refused", got, fits)
	}
	if p := r.Pending(); p != fits*span(ringtest.FixedLen) {
		t.Errorf("%d bytes pending, want %d", p, fits*span(ringtest.FixedLen))
	}
	var seq uint64
	n, err := r.Read(func(rec []byte) {
		if len(rec) != ringtest.FixedLen || binary.NativeEndian.Uint64(rec) != seq ||
			binary.NativeEndian.Uint64(rec[8:]) != seq {
			t.Errorf("fill record %d: %x", seq, rec)
		}
		seq++
	})
	if err != nil || uint64(n) != fits {
		t.Fatalf("read %d records (%v), want %d", n, err, fits)
	}

	// Variable records from the mix, until both kinds were refused.
	c := newChecker(t)
	c.next = fits
	buf := make([]byte, ringtest.MaxLen)
	var a uint64
	for ; a < 1000; a++ {
		send(buf, a)
	}
	got := counts(t, obj)
	if got.OutputFailed < 2 || got.ReserveFailed == 0 {
		t.Fatalf("a full ring refused nothing: counts %+v", got)
	}
	if p := r.Pending(); p > size {
		t.Errorf("%d bytes pending in a %d-byte ring", p, size)
	}
	n = c.read(r)
	if uint64(n)+fits != got.Committed {
		t.Errorf("read %d records, want %d", n, got.Committed-fits)
	}

	// Drained, the ring takes records again.
	send(buf, a)
	if n := c.read(r); n != 1 {
		t.Errorf("after draining read %d records, want 1", n)
	}
}
