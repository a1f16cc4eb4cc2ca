// Memory under many connections that each leave a long header section
// hanging: what httptrace retains must stay bounded.
package hostile

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// The idle-headers case: connections, and the header bytes each sends
// before it goes quiet without ending its header section.
const (
	idleConns       = 16384
	idleHeaderBytes = 60 << 10
)

// maxIdlePeakRSSKiB bounds httptrace's peak resident set in the
// idle-headers case: the documented bound for 16,384 connections.
const maxIdlePeakRSSKiB = 160 << 10

// TestIdleHeaders opens 16,384 connections to a traced Go server, sends
// 60 KiB of header lines on each without ending the header section, and
// leaves them idle: httptrace's peak RSS must stay under its bound. Then
// they close, and the next exchange is logged normally. (Records may be
// lost in the kernel while 1 GB of headers arrives at once; the summary
// counts them.)
func TestIdleHeaders(t *testing.T) {
	harness.RequireRoot(t)
	raiseFileLimit(t, idleConns+1024)
	srv := harness.StartGoServer(t)
	tr := harness.StartTracer(t, harness.Mode(), []int{srv.PID()})
	var line strings.Builder
	for i := 0; line.Len() < idleHeaderBytes; i++ {
		fmt.Fprintf(&line, "X-Pad-%d: %s\r\n", i, strings.Repeat("p", 200))
	}
	head := "GET /ok/idle HTTP/1.1\r\nHost: x\r\n" + line.String()
	conns := make([]*harness.RawConn, idleConns)
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	start := time.Now()
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c := harness.DialRaw(t, srv.Addr)
			c.Send(t, head)
			mu.Lock()
			conns[i] = c
			mu.Unlock()
		}()
	}
	wg.Wait()
	time.Sleep(2 * time.Second) // the last records' poll and parse
	peak := peakRSSKiB(t, tr.PID())
	rss := statusKiB(t, tr.PID(), "VmRSS:")
	t.Logf("%d connections with %d header bytes each sent in %s: httptrace peak RSS %d KiB, RSS %d KiB",
		idleConns, len(head), time.Since(start).Round(time.Millisecond), peak, rss)
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	if peak > maxIdlePeakRSSKiB {
		t.Errorf("httptrace peak RSS (VmHWM) %d KiB with %d idle connections, bound %d KiB", peak, idleConns, maxIdlePeakRSSKiB)
	}
	// The next exchange is logged normally.
	c := harness.DialRaw(t, srv.Addr)
	id := harness.NewID("after-idle")
	s := c.Exchange(t, "GET", "/ok/"+id, id)
	c.Close()
	tr.WaitFor(t, waitForLogs, harness.AllLogged([]harness.Sent{s}))
	sum := tr.StopAndSummary(t)
	t.Logf("summary: %s", sum.Line)
	// The idle connections' records (the server answers 400 to a header
	// section cut by the close) are not checked: only the next exchange.
	var after []harness.Record
	for _, r := range tr.Records(t) {
		if harness.Matches(r, id) {
			after = append(after, r)
		}
	}
	harness.Check(t, after, []harness.Sent{s})
}

// statusKiB reads one "Name: N kB" line of /proc/PID/status.
func statusKiB(t *testing.T, pid int, name string) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, name); ok {
			n, err := strconv.Atoi(strings.Fields(v)[0])
			if err != nil {
				t.Fatalf("%s %q: %v", name, v, err)
			}
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", name, pid)
	return 0
}
