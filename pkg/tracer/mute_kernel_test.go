package tracer

import (
	"errors"
	"syscall"
	"testing"
	"unsafe"

	"github.com/httptrace/httptrace/pkg/bpfobj"
	"github.com/httptrace/httptrace/pkg/event"
)

// TestMuteRace mutes a connection whose program runs between Mute's two
// writes: a read in the child sees the first mark, mutes the connection
// and deletes both marks before the second is written. Mute takes the
// second back, so conn_skips holds nothing of the connection, and the
// connection stays muted: its next read is counted as not HTTP and sends
// nothing.
func TestMuteRace(t *testing.T) {
	_, plan := kernelPlan(t)
	c, peer, conn := dialedRole(t, "reader")
	tr := openTracer(t, c.cmd.Process.Pid, plan, 4096, 1<<20, false)
	read := func(what string) {
		t.Helper()
		if _, err := peer.Write([]byte(what)); err != nil {
			t.Fatal(err)
		}
		c.expect(t, "read")
	}
	read("\x00AUTH EXTERNAL 30\r\n") // the connection's first bytes: a conns entry
	before := notHTTP(t, tr)

	muteBetween = func() { read("BEGIN\r\n") }
	defer func() { muteBetween = nil }()
	if err := tr.Mute(conn, 0); err != nil {
		t.Fatal(err)
	}
	if got := notHTTP(t, tr); got != before+1 {
		t.Fatalf("not_http %d after the read between the writes, want %d: the program did not mute then", got, before+1)
	}
	m, err := tr.bpfMap(bpfobj.MapConnSkips)
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []event.Direction{event.Recv, event.Send} {
		key := skipKey{Conn: conn, Dir: uint32(dir)}
		if _, err := m.GetValue(unsafe.Pointer(&key)); !errors.Is(err, syscall.ENOENT) {
			t.Errorf("conn_skips still holds %s of the muted connection (%v)", dir, err)
		}
	}
	read("more\r\n")
	if got := notHTTP(t, tr); got != before+2 {
		t.Errorf("not_http %d after a later read, want %d: the connection is not muted", got, before+2)
	}
}

// TestMuteEvicted mutes a connection whose first mark is gone before the
// second is written, as conn_skips (an LRU map) may evict it: no program
// muted the connection, so Mute leaves the second mark in place, and the
// connection's next write mutes it.
func TestMuteEvicted(t *testing.T) {
	_, plan := kernelPlan(t)
	c, peer, conn := dialedRole(t, "reader")
	tr := openTracer(t, c.cmd.Process.Pid, plan, 4096, 1<<20, false)
	send := func(what string) {
		t.Helper()
		if _, err := peer.Write([]byte(what)); err != nil {
			t.Fatal(err)
		}
		c.expect(t, "read")
	}
	send("\x00AUTH EXTERNAL 30\r\n") // the connection's first bytes: a conns entry
	before := notHTTP(t, tr)
	m, err := tr.bpfMap(bpfobj.MapConnSkips)
	if err != nil {
		t.Fatal(err)
	}
	muteBetween = func() {
		key := skipKey{Conn: conn, Dir: uint32(event.Recv)}
		if err := m.DeleteKey(unsafe.Pointer(&key)); err != nil {
			t.Errorf("evicting the first mark: %v", err)
		}
	}
	defer func() { muteBetween = nil }()
	if err := tr.Mute(conn, 0); err != nil {
		t.Fatal(err)
	}
	key := skipKey{Conn: conn, Dir: uint32(event.Send)}
	if _, err := m.GetValue(unsafe.Pointer(&key)); err != nil {
		t.Fatalf("the second mark is gone after the first was evicted (%v): nothing will mute the connection", err)
	}
	if muted, err := tr.connMuted(conn, 0); muted || err != nil {
		t.Fatalf("muted %v (%v) before any program ran", muted, err)
	}
	send("echo:BEGIN\r\n") // read, then written back: the write mutes
	if got := notHTTP(t, tr); got != before+1 {
		t.Errorf("not_http %d after the write, want %d: the second mark did not mute", got, before+1)
	}
	if muted, err := tr.connMuted(conn, 0); !muted || err != nil {
		t.Errorf("muted %v (%v) after the write, want muted in the conns entry", muted, err)
	}
	if _, err := m.GetValue(unsafe.Pointer(&key)); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("conn_skips still holds the mark the write acted on (%v)", err)
	}
}

// notHTTP is the programs' count of transfers left out as not HTTP.
func notHTTP(t *testing.T, tr *Tracer) uint64 {
	t.Helper()
	// The child printed after its read returned: the program ran before.
	counters, err := tr.Counters()
	if err != nil {
		t.Fatal(err)
	}
	return counters.BPF[event.StatNotHTTP]
}
