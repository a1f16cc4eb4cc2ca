// How a consumer drives a Reader: wait on a short timer, read in batches, stop with Wake.
package ringbuf_test

import (
	"context"
	"time"

	"github.com/httptrace/httptrace/pkg/ringbuf"
)

func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mapFD := -1 // the fd of a BPF_MAP_TYPE_RINGBUF map, e.g. from libbpfgo's BPFMap.FileDescriptor
	r, err := ringbuf.NewReader(mapFD)
	if err != nil {
		return
	}
	defer r.Close()
	// Shutdown: Wake ends a blocked Wait; the loop then sees ctx done.
	go func() { <-ctx.Done(); r.Wake() }()
	handle := func(rec []byte) { _ = rec } // decode here; rec is gone after it returns
	for ctx.Err() == nil {
		if err := r.Wait(10 * time.Millisecond); err != nil {
			return
		}
		if _, err := r.Read(handle); err != nil {
			return
		}
	}
	// Records written before the probes were detached are still there.
	r.Read(handle)
}
