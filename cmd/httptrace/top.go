package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"

	"github.com/charmbracelet/x/term"
	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/aggregate"
	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/top"
)

// topSession is what --top adds to a run: the live view on this terminal,
// and the diagnostics held while it is shown (they would draw over it).
// Its methods do nothing on a nil session.
type topSession struct {
	held   *heldLog
	stderr io.Writer

	mu   sync.Mutex
	live *top.View
}

// newTopSession checks that --top can run: a terminal on stdin and
// stdout, and no filter (the view shows every exchange, and --top logs
// none for a filter to choose).
func newTopSession(cfg config.Config, stdout, stderr io.Writer) (*topSession, error) {
	if !isTerminal(stdout) || !isTerminal(os.Stdin) {
		return nil, errors.New("--top needs a terminal on stdin and stdout")
	}
	if !cfg.Filter.Empty() {
		return nil, errors.New("--top shows every exchange: a filter (" + cfg.Filter.String() + ") chooses what is logged, and --top logs none")
	}
	return &topSession{held: &heldLog{}, stderr: stderr}, nil
}

// view is the runner's View: quitting it calls quit (the tracing stops);
// its own failure is logged to diag.
func (s *topSession) view(diag *logrus.Logger, quit func()) func(agg *aggregate.Aggregator) func() {
	return func(agg *aggregate.Aggregator) func() {
		v := top.Start(agg, top.Options{In: os.Stdin, Out: os.Stdout, Quit: quit, Status: s.held.last,
			Failed: func(err error) { diag.WithError(err).Error("the live view failed: tracing stops") }})
		s.mu.Lock()
		s.live = v
		s.mu.Unlock()
		return v.Stop
	}
}

// end writes what was held, and sends diagnostics to stderr from now on.
func (s *topSession) end(diag *logrus.Logger) {
	if s == nil {
		return
	}
	diag.SetOutput(s.stderr)
	s.held.writeTo(s.stderr)
}

// abort, before an exit at once, gives the terminal back and writes what
// was held.
func (s *topSession) abort() {
	if s == nil {
		return
	}
	s.mu.Lock()
	v := s.live
	s.mu.Unlock()
	if v != nil {
		v.Kill()
	}
	s.held.writeTo(s.stderr)
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
	b := bytes.TrimRight(h.buf.Bytes(), "\n")
	return string(b[bytes.LastIndexByte(b, '\n')+1:])
}

// writeTo writes what was held, and holds nothing more.
func (h *heldLog) writeTo(w io.Writer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.WriteTo(w)
}
