package exchange

import (
	"testing"

	"github.com/httptrace/httptrace/pkg/event"
)

// tlsData is a record of the TLS source: plaintext at the TLS positions.
func (p *peer) tlsData(d event.Direction, s string) *event.Data {
	rec := p.data(d, s)
	rec.Source, rec.Syscall = event.SourceTLS, event.SysTLSRead
	rec.Flags |= event.ConnTLS
	return rec
}

// Plaintext of a TLS connection is logged as any exchange, with TLS set.
func TestTLSRecords(t *testing.T) {
	w := newWorld(t, DefaultOptions())
	c := w.serverConn(1)
	w.tr.Data(c.tlsData(event.Recv, get("/a")))
	w.tr.Data(c.tlsData(event.Send, ok("hi")))
	if got := w.summary(); got != "GET /a 200" || !w.recs[0].TLS {
		t.Fatalf("got %q (tls %v), want GET /a 200 with tls", got, len(w.recs) > 0 && w.recs[0].TLS)
	}
}

// A connection whose socket bytes were sent before it was known to be TLS
// starts again from its plaintext, adopted: its positions are the
// plaintext's own. A late socket record of it is stale.
func TestTLSAfterSocketBytes(t *testing.T) {
	w := newWorld(t, DefaultOptions())
	c := w.serverConn(1)
	w.tr.Data(c.data(event.Recv, "\x17\x03\x03\x00\x20ciphertext")) // an adopted-looking TLS record
	tlsConn := w.serverConn(1)
	w.tr.Data(tlsConn.tlsData(event.Recv, get("/b")))
	w.tr.Data(tlsConn.tlsData(event.Send, ok("x")))
	w.tr.Data(c.data(event.Send, "\x17\x03\x03 more ciphertext"))
	w.tr.Data(tlsConn.tlsData(event.Recv, get("/c")))
	w.tr.Data(tlsConn.tlsData(event.Send, ok("y")))
	s := w.tr.Stats()
	if got := w.summary(); got != "GET /b 200 adopted; GET /c 200 adopted" || s.ConnsSwitchedTLS != 1 || s.StaleRecords != 1 {
		t.Fatalf("got %q, switched %d, stale %d; want both plaintext exchanges, adopted, 1, 1",
			got, s.ConnsSwitchedTLS, s.StaleRecords)
	}
	for _, r := range w.recs {
		if !r.TLS {
			t.Errorf("%s %s logged without tls", r.Method, r.Path)
		}
	}
}

// A TLS connection the kernel saw before the libraries were probed may
// have moved plaintext unseen: adopted. One seen after is not.
func TestTLSReadyAdopts(t *testing.T) {
	opts := DefaultOptions()
	opts.TLSReadyNs = 5000
	w := newWorld(t, opts)
	early, late := w.serverConn(1), w.serverConn(2)
	early.gen, late.gen = 4000, 6000
	for _, c := range []*peer{early, late} {
		w.tr.Data(c.tlsData(event.Recv, get("/x")))
		w.tr.Data(c.tlsData(event.Send, ok("z")))
	}
	w.tr.Flush(w.now)
	if got := w.summary(); got != "GET /x 200 adopted; GET /x 200" {
		t.Fatalf("records %q: want the early connection's exchange adopted, the late one's not", got)
	}
}
