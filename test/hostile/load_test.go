// Load and abrupt ends: thousands of concurrent connections, a thousand
// pipelined requests on one connection, and clients that reset mid-response.
package hostile

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// concurrentConns is how many connections the concurrent case holds open at once.
const concurrentConns = 2000

// caseConcurrent opens 2000 connections to the Go server, holds them all
// open, sends one request on each at once, and checks every exchange is
// logged right. The summary's events_lost is checked at the end.
func caseConcurrent(t *testing.T, h *hostile) {
	tg := h.targets[0] // nginx here allows 256 connections per worker
	conns := make([]*harness.RawConn, concurrentConns)
	for i := range conns {
		conns[i] = harness.DialRaw(t, tg.addr)
	}
	sent := make([]harness.Sent, concurrentConns)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range conns {
		wg.Add(1)
		// A failing exchange ends only its goroutine (FailNow's Goexit).
		go func(i int, c *harness.RawConn) {
			defer wg.Done()
			<-start
			id := harness.NewID("conc")
			sent[i] = c.Exchange(t, "GET", tg.okPath(id), id)
		}(i, c)
	}
	close(start)
	wg.Wait()
	for _, c := range conns {
		c.Close()
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, s := range sent {
		if s.Status != 200 {
			t.Fatalf("GET %s got %d, want 200", s.Path, s.Status)
		}
	}
	h.expect(t, sent)
}

// pipelined is how many requests go in one write on one connection.
const pipelined = 1000

// casePipelined writes 1000 requests with mixed statuses in one write on
// one connection per target and reads the answers. Every answered request
// is logged right and in order; any not answered (the server closed early)
// is logged flagged or not at all.
func casePipelined(t *testing.T, h *hostile) {
	for _, tg := range h.targets {
		v := newView()
		conn := dial(t, tg.addr)
		v.client, v.server = conn.LocalAddr().String(), conn.RemoteAddr().String()
		var all strings.Builder
		reqs := make([]harness.Sent, pipelined)
		for i := range reqs {
			id := harness.NewID("pipe")
			path := tg.statusPath(tg.statuses[i%len(tg.statuses)], id)
			req := harness.RequestText("GET", path, id)
			all.WriteString(req)
			reqs[i] = harness.Sent{ID: id, Method: "GET", Path: path, RequestBytes: int64(len(req)),
				Server: v.server, Client: v.client}
			v.requests = append(v.requests, line{"GET", path})
		}
		// The client writes everything, ends its side, and reads until the
		// server, done with the pipeline, closes.
		wrote := make(chan error, 1)
		go func() {
			_, err := io.WriteString(conn, all.String())
			conn.(*net.TCPConn).CloseWrite()
			wrote <- err
		}()
		got := drain(conn, 15*time.Second)
		rd := bytes.NewReader(got)
		br := bufio.NewReader(rd)
		consumed := func() int64 { return int64(len(got)) - int64(rd.Len()) - int64(br.Buffered()) }
		var answered []harness.Sent
		for i := range reqs {
			before := consumed()
			resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
			if err != nil {
				t.Logf("%s: the server answered %d of %d pipelined requests (%v)", tg.name, i, pipelined, err)
				break
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Logf("%s: answer %d cut short: %v", tg.name, i, err)
				break
			}
			s := reqs[i]
			s.Answer = harness.Answer{Status: resp.StatusCode}
			s.ResponseBytes = consumed() - before
			answered = append(answered, s)
			v.statuses = append(v.statuses, resp.StatusCode)
		}
		conn.Close()
		if err := <-wrote; err != nil && len(answered) == pipelined {
			t.Fatalf("%s: writing the pipelined requests: %v", tg.name, err)
		}
		if len(answered) < pipelined/2 {
			t.Fatalf("%s answered only %d of %d pipelined requests", tg.name, len(answered), pipelined)
		}
		for _, s := range answered {
			// The test's premise: the server answered what the path asks.
			if want := strings.Split(s.Path, "/")[2]; strconv.Itoa(s.Status) != want {
				t.Fatalf("%s: %s answered %d", tg.name, s.Path, s.Status)
			}
		}
		v.complete = answered
		h.expect(t, answered)
		recs := judge(t, h.tr.Records(t), v)
		inOrder(t, recs, reqs)
	}
}

// inOrder checks the connection's records come in the order the requests
// were sent, with non-decreasing times.
func inOrder(t *testing.T, recs []harness.Record, reqs []harness.Sent) {
	t.Helper()
	pos := map[string]int{}
	for i, s := range reqs {
		pos[s.ID] = i
	}
	last := -1
	var lastRec harness.Record
	for _, r := range recs {
		i, ok := pos[r.Header(harness.IDHeader)]
		if !ok {
			continue
		}
		if i <= last {
			t.Errorf("pipelined request %d logged after request %d:\n  %s\n  %s", i, last, lastRec.Line, r.Line)
			return
		}
		if last >= 0 && r.Start.Before(lastRec.Start) {
			t.Errorf("pipelined request %d starts before request %d:\n  %s\n  %s", i, last, lastRec.Line, r.Line)
			return
		}
		last, lastRec = i, r
	}
}

// resets is how many clients reset mid-response.
const resets = 3

// caseResetMidResponse asks the Go server for its 1 MiB answer on
// connections with a small receive buffer, reads a few KiB and resets
// (SO_LINGER 0). Each exchange is logged flagged, or whole only if the
// server wrote it all; never with more than was sent.
func caseResetMidResponse(t *testing.T, h *hostile) {
	tg := h.targets[0]
	// The whole answer first, for its size.
	c := harness.DialRaw(t, tg.addr)
	id := harness.NewID("large")
	full := c.Exchange(t, "GET", "/large/"+id, id)
	c.Close()
	if full.Status != 200 {
		t.Fatalf("GET %s got %d, want 200", full.Path, full.Status)
	}
	h.expect(t, []harness.Sent{full})

	dialer := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		return serr
	}}
	var views []view
	for i := 0; i < resets; i++ {
		v := newView()
		conn, err := dialer.Dial("tcp", tg.addr)
		if err != nil {
			t.Fatalf("dialing %s: %v", tg.addr, err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		id := harness.NewID("reset")
		path := "/large/" + id
		v.client, v.server = conn.LocalAddr().String(), conn.RemoteAddr().String()
		v.requests = []line{{"GET", path}}
		if _, err := io.WriteString(conn, harness.RequestText("GET", path, id)); err != nil {
			t.Fatalf("writing: %v", err)
		}
		buf := make([]byte, 8<<10)
		n, err := io.ReadFull(conn, buf)
		if err != nil {
			t.Fatalf("reading the first %d bytes of %s: %v", len(buf), path, err)
		}
		if st, _ := statusesIn(buf[:n], "GET"); len(st) == 1 {
			v.statuses = st
		} else if strings.HasPrefix(string(buf), "HTTP/1.1 200 ") {
			v.statuses = []int{200}
		}
		// A whole record is right only when the server wrote it all.
		v.complete = []harness.Sent{{Method: "GET", Path: path, Answer: harness.Answer{Status: 200}}}
		conn.(*net.TCPConn).SetLinger(0)
		conn.Close()
		views = append(views, v)
	}
	recs := h.settle(t, 5*time.Second, views)
	for _, v := range views {
		mine := judge(t, recs, v)
		if len(mine) != 1 {
			t.Errorf("reset exchange %s -> %s logged %d times, want once%s", v.client, v.server, len(mine), lines(mine))
		}
		for _, r := range mine {
			if r.ResponseBytes > full.ResponseBytes {
				t.Errorf("reset exchange logged with %d response bytes, the whole answer is %d: %s", r.ResponseBytes, full.ResponseBytes, r.Line)
			}
			if !flagged(r) && r.ResponseBytes != full.ResponseBytes {
				t.Errorf("reset exchange logged whole with %d of %d response bytes: %s", r.ResponseBytes, full.ResponseBytes, r.Line)
			}
			if r.Status != 200 && !r.Incomplete {
				t.Errorf("reset exchange logged with status %d and not incomplete: %s", r.Status, r.Line)
			}
		}
		t.Logf("reset exchange: %s", lines(mine))
	}
}
