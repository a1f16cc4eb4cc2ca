package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/charmbracelet/x/term"

	"github.com/httptrace/httptrace/pkg/aggregate"
	"github.com/httptrace/httptrace/pkg/top"
)

// topView is the runner's View for --top: the live view on this
// terminal; quitting it stops the tracing (quit).
func topView(quit func(), held *heldLog) func(agg *aggregate.Aggregator) func() {
	return func(agg *aggregate.Aggregator) func() {
		v := top.Start(agg, top.Options{In: os.Stdin, Out: os.Stdout, Quit: quit, Status: held.last})
		return v.Stop
	}
}

// isTerminal says whether f is a terminal.
func isTerminal(f any) bool {
	fd, ok := f.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(fd.Fd())
}

// heldLog holds the diagnostics written while the view is shown.
type heldLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// heldMax bounds what is held: past it, the older half is let go.
const heldMax = 1 << 20

func (h *heldLog) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.buf.Len()+len(p) > heldMax {
		rest := h.buf.Bytes()[h.buf.Len()/2:]
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			rest = rest[i+1:]
		}
		kept := append([]byte("(earlier diagnostics dropped)\n"), rest...)
		h.buf.Reset()
		h.buf.Write(kept)
	}
	return h.buf.Write(p)
}

// last is the last diagnostic line, for the view's status line.
func (h *heldLog) last() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := strings.TrimRight(h.buf.String(), "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// writeTo writes what was held.
func (h *heldLog) writeTo(w io.Writer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.WriteTo(w)
}
