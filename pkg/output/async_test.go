package output

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// gatedWriter blocks every Write until the gate opens, then records it.
type gatedWriter struct {
	gate chan struct{}
	mu   sync.Mutex
	out  bytes.Buffer
	err  error
}

func (g *gatedWriter) Write(p []byte) (int, error) {
	<-g.gate
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.err != nil {
		return 0, g.err
	}
	return g.out.Write(p)
}

// TestAsyncWriterDoesNotBlock: while the underlying writer blocks, Writes
// up to the queue's bound return at once; past it they wait and are
// counted; everything comes out in order once it unblocks.
func TestAsyncWriterDoesNotBlock(t *testing.T) {
	g := &gatedWriter{gate: make(chan struct{})}
	a := NewAsyncWriter(g, 4*len("line 0\n"))
	var want bytes.Buffer
	start := time.Now()
	for i := range 4 {
		line := fmt.Sprintf("line %d\n", i)
		want.WriteString(line)
		if _, err := a.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > time.Second || a.Waits() != 0 {
		t.Fatalf("writes into a free queue took %s, %d waited", d, a.Waits())
	}
	wrote := make(chan struct{})
	go func() {
		a.Write([]byte("line 5\n"))
		a.Write([]byte("line 6\n"))
		close(wrote)
	}()
	want.WriteString("line 5\nline 6\n")
	select {
	case <-wrote:
		t.Fatal("writes past the queue's depth did not wait")
	case <-time.After(100 * time.Millisecond):
	}
	close(g.gate)
	<-wrote
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if g.out.String() != want.String() || a.Waits() == 0 {
		t.Fatalf("wrote %q (want %q), %d waits", g.out.String(), want.String(), a.Waits())
	}
}

// TestAsyncWriterError: the underlying writer's error comes back from a
// later Write and from Close.
func TestAsyncWriterError(t *testing.T) {
	boom := errors.New("boom")
	g := &gatedWriter{gate: make(chan struct{}), err: boom}
	close(g.gate)
	a := NewAsyncWriter(g, 1<<20)
	a.Write([]byte("x"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := a.Write([]byte("y")); errors.Is(err, boom) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the writer's error never came back from Write")
		}
		time.Sleep(time.Millisecond)
	}
	if err := a.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close = %v, want %v", err, boom)
	}
}

// discard is a writer that takes everything at once.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestAsyncWriterAllocatesNothing: once warm, handing over flushes of any
// size up to a sink's buffer allocates nothing.
func TestAsyncWriterAllocatesNothing(t *testing.T) {
	a := NewAsyncWriter(discard{}, 1<<20)
	defer a.Close()
	small, large := make([]byte, 300), make([]byte, flushBytes)
	drain := func() {
		for {
			a.mu.Lock()
			empty := a.queued == 0
			a.mu.Unlock()
			if empty {
				return
			}
			time.Sleep(10 * time.Microsecond)
		}
	}
	for range 20 { // warm up the free list
		a.Write(small)
		a.Write(large)
		drain()
	}
	allocs := testing.AllocsPerRun(200, func() {
		a.Write(small)
		a.Write(large)
		drain()
	})
	if allocs > 0.1 {
		t.Errorf("%.2f allocations per pair of writes", allocs)
	}
}
