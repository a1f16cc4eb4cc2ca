package exchange

import (
	"testing"

	"github.com/httptrace/httptrace/pkg/event"
)

// TestNotHTTPMuted: a connection seen from its start whose first bytes are
// not HTTP (D-Bus here) is muted: the kernel is told (MuteHint), nothing is logged, and what it moves later is not parsed.
// Connections that open like HTTP, adopted ones, and ones whose first
// record is too short to tell, are parsed as before. At their close the
// muted connections' skips are cleared.
func TestNotHTTPMuted(t *testing.T) {
	w := newWorld(t, Options{})
	got := w.collectHints()
	var forgot []uint64
	w.tr.SkipForget(func(conn uint64) { forgot = append(forgot, conn) })

	dbus := w.serverConn(1)
	dbus.send(event.Recv, "\x00AUTH EXTERNAL 30\r\n")
	dbus.send(event.Send, "OK 1234\r\n")
	dbus.send(event.Recv, get("/looks-like-http"))
	dbus.send(event.Send, ok("x"))
	dbus.close()

	greeting := w.clientConn(2) // a server that speaks first (SMTP)
	greeting.send(event.Recv, "220 mail.example.com ESMTP\r\n")
	greeting.close()

	short := w.serverConn(3) // "GET" alone cannot tell; the rest follows
	short.send(event.Recv, "GET")
	short.send(event.Recv, " /short HTTP/1.1\r\nHost: a\r\n\r\n")
	short.send(event.Send, ok("s"))

	adopted := w.serverConn(4) // in the middle of a body: not muted
	adopted.flags = event.ConnAdopted
	adopted.send(event.Recv, "\x00\x01binary body tail")
	adopted.send(event.Recv, get("/after"))
	adopted.send(event.Send, ok("a"))

	plain := w.serverConn(5)
	plain.send(event.Recv, get("/plain"))
	plain.send(event.Send, ok("p"))
	w.tr.Flush(w.now)

	want := []hint{{conn: 1, mute: true}, {conn: 2, mute: true}}
	if hints := *got; len(hints) != len(want) {
		t.Fatalf("hints %+v, want %+v", hints, want)
	}
	for i := range want {
		if (*got)[i] != want[i] {
			t.Errorf("hint %d: %+v, want %+v", i, (*got)[i], want[i])
		}
	}
	logged := map[string]bool{}
	for _, r := range w.recs {
		if r.Conn == 1 || r.Conn == 2 {
			t.Errorf("logged an exchange of a muted connection: %+v", r)
		}
		logged[r.Path] = true
		if (r.Path == "/short" || r.Path == "/plain") && (r.Status != 200 || r.Incomplete || r.Unmatched) {
			t.Errorf("record %s: status %d incomplete %v unmatched %v", r.Path, r.Status, r.Incomplete, r.Unmatched)
		}
	}
	for _, p := range []string{"/short", "/after", "/plain"} {
		if !logged[p] {
			t.Errorf("%s not logged", p)
		}
	}
	// The muted connections closed: their skips are cleared (the kernel
	// may have forgotten the connection before the mute reached it).
	if len(forgot) != 2 || forgot[0] != 1 || forgot[1] != 2 {
		t.Errorf("skips cleared for %v, want 1 and 2", forgot)
	}
	if st := w.tr.Stats(); st.NotHTTP != 2 {
		t.Errorf("stats: not_http %d, want 2", st.NotHTTP)
	}
}
