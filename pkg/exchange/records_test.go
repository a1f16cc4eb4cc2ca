package exchange

import (
	"fmt"
	"testing"

	"github.com/httptrace/httptrace/pkg/record"
)

// TestRepeatedHeadsKeepTheirValues: a header section the same as the last
// one's is not copied again, and one that differs (even at the same
// length) gives records of its own, while records taken earlier keep
// theirs.
func TestRepeatedHeadsKeepTheirValues(t *testing.T) {
	w := newWorld(t, DefaultOptions())
	c := w.serverConn(1)
	d := w.serverConn(2)
	resp := func(date string) string {
		return "HTTP/1.1 200 OK\r\nDate: " + date + "\r\nContent-Length: 0\r\n\r\n"
	}
	c.send(in, get("/a"))
	c.send(out, resp("Mon"))
	c.send(in, get("/a"))
	c.send(out, resp("Mon"))
	c.send(in, get("/b"))
	c.send(out, resp("Tue"))
	d.send(in, get("/b"))
	d.send(out, resp("Tue"))
	c.send(in, get("/a"))
	c.send(out, resp("Wed"))
	var got string
	for _, r := range w.recs {
		got += fmt.Sprintf("%s %s %s; ", r.Path, header(r.Headers, "Host"), header(r.ResponseHeaders, "Date"))
	}
	if want := "/a h Mon; /a h Mon; /b h Tue; /b h Tue; /a h Wed; "; got != want {
		t.Errorf("records %q\nwant %q", got, want)
	}
}

// TestKeepAliveAllocatesNothing: an exchange whose header sections are the
// same as the last ones' allocates nothing on its way through.
func TestKeepAliveAllocatesNothing(t *testing.T) {
	req := "GET /api HTTP/1.1\r\nHost: example.local\r\nUser-Agent: bench/1.0\r\n\r\n"
	resp := "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 2\r\n\r\nok"
	n := 0
	tr := New(DefaultOptions(), func(*record.Exchange) { n++ })
	w := newWorld(t, DefaultOptions())
	p := w.serverConn(1)
	rq, rs := p.data(in, req), p.data(out, resp)
	run := func() {
		tr.Data(rq)
		tr.Data(rs)
		rq.Pos += uint64(rq.Bytes)
		rs.Pos += uint64(rs.Bytes)
	}
	run()
	if a := testing.AllocsPerRun(100, run); a != 0 {
		t.Errorf("%v allocations per exchange", a)
	}
	if n != 102 {
		t.Errorf("%d exchanges, want 102", n)
	}
}
