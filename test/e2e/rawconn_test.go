// Raw-socket cases about connections and processes: adopted connections,
// a child per connection, untraced twins, secrets, false captures.
package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// TestRawAdopted opens a keep-alive connection and uses it before httptrace
// starts; the next request on it is logged with adopted: true, and right.
// The request before the start is not logged.
func TestRawAdopted(t *testing.T) {
	harness.RequireRoot(t)
	srv := harness.StartGoServer(t)
	c := harness.DialRaw(t, srv.Addr)
	early := harness.NewID("adopt")
	expectStatus(t, c.Exchange(t, "GET", "/ok/"+early, early), 200)

	tr := trace(t, srv.PID())
	id := harness.NewID("adopt")
	adopted := c.Exchange(t, "GET", "/ok/"+id, id)
	expectStatus(t, adopted, 200)
	adopted.Adopted = true
	id = harness.NewID("adopt")
	again := c.Exchange(t, "GET", "/ok/"+id, id)
	expectStatus(t, again, 200)
	again.Adopted = true
	// A connection opened while tracing is not adopted.
	fresh := harness.DialRaw(t, srv.Addr)
	id = harness.NewID("adopt")
	news := fresh.Exchange(t, "GET", "/ok/"+id, id)
	expectStatus(t, news, 200)
	finish(t, tr, "raw", []harness.Sent{adopted, again, news})
}

// TestRawForkPerConnection traces a server that forks a child per
// connection, puts the socket on fds 0 and 1, reads with read(2) and sends
// bodies with sendfile(2). Each record has the child's pid.
func TestRawForkPerConnection(t *testing.T) {
	srv := harness.StartForkServer(t)
	tr := trace(t, srv.PID())
	var sent []harness.Sent
	children := map[int]bool{}
	for conn := 0; conn < 3; conn++ {
		c := harness.DialRaw(t, srv.Addr)
		for i := 0; i < 2; i++ {
			id := harness.NewID("fork")
			s := c.Exchange(t, "GET", "/fork/"+id, id)
			expectStatus(t, s, 200)
			sent = append(sent, s)
			children[s.ServerPID] = true
		}
		id := harness.NewID("fork")
		s := c.Exchange(t, "GET", "/fork/"+id, id, "Connection: close")
		expectStatus(t, s, 200)
		sent = append(sent, s)
		c.Close()
	}
	if len(children) != 3 || children[srv.PID()] {
		t.Fatalf("served by %v (parent %d): want three children, one per connection", children, srv.PID())
	}
	finish(t, tr, "raw", sent)
}

// TestRawConcurrent runs 32 connections at once, five requests each.
func TestRawConcurrent(t *testing.T) {
	srv := harness.StartGoServer(t)
	tr := trace(t, srv.PID())
	const conns, each = 32, 5
	results := make(chan []harness.Sent, conns)
	var wg sync.WaitGroup
	for i := 0; i < conns; i++ {
		wg.Add(1)
		// A failing request ends only its goroutine (FailNow's Goexit);
		// the count below then fails the test.
		go func() {
			defer wg.Done()
			c := harness.DialRaw(t, srv.Addr)
			var sent []harness.Sent
			for j := 0; j < each; j++ {
				id := harness.NewID("conc")
				sent = append(sent, c.Exchange(t, "GET", "/ok/"+id, id))
			}
			c.Close()
			results <- sent
		}()
	}
	wg.Wait()
	close(results)
	var sent []harness.Sent
	for r := range results {
		sent = append(sent, r...)
	}
	if len(sent) != conns*each {
		t.Fatalf("%d of %d requests answered", len(sent), conns*each)
	}
	for _, s := range sent {
		expectStatus(t, s, 200)
	}
	finish(t, tr, "raw", sent)
}

// TestRawUntracedTwin sends the same traffic to a traced server and its
// untraced twin: only the traced one's exchanges are logged.
func TestRawUntracedTwin(t *testing.T) {
	traced := harness.StartGoServer(t)
	twin := harness.StartGoServer(t)
	tr := trace(t, traced.PID())
	var sent []harness.Sent
	for _, srv := range []*harness.Server{traced, twin} {
		c := harness.DialRaw(t, srv.Addr)
		for i := 0; i < 3; i++ {
			id := harness.NewID("twin")
			s := c.Exchange(t, "GET", "/ok/"+id, id)
			expectStatus(t, s, 200)
			if srv == traced {
				sent = append(sent, s)
			}
		}
	}
	finish(t, tr, "raw", sent)
	noneFrom(t, tr, twin.PID())
}

// Secrets the record must never show.
const (
	secretToken  = "abc123"
	secretQuery  = "xyz"
	redactedMark = "[redacted]"
)

// TestRawSecrets sends a bearer token and a token query parameter: the
// record shows [redacted] for both and stdout never holds either secret.
func TestRawSecrets(t *testing.T) {
	srv := harness.StartGoServer(t)
	tr := trace(t, srv.PID())
	c := harness.DialRaw(t, srv.Addr)
	id := harness.NewID("secret")
	s := c.Exchange(t, "GET", "/secret/"+id+"?token="+secretQuery, id, "Authorization: Bearer "+secretToken)
	expectStatus(t, s, 200)
	s.PathCheck = func(p string) error {
		if !strings.HasPrefix(p, "/secret/"+id+"?token=") || strings.Contains(p, secretQuery) ||
			!strings.Contains(p, "redacted") {
			return fmt.Errorf("want /secret/%s?token= with the value redacted", id)
		}
		return nil
	}
	finish(t, tr, "raw", []harness.Sent{s})
	for _, r := range tr.Records(t) {
		if harness.Matches(r, id) && r.Header("Authorization") != redactedMark {
			t.Errorf("Authorization logged as %q, want %q", r.Header("Authorization"), redactedMark)
		}
	}
	for _, l := range tr.Stdout() {
		if strings.Contains(l, secretToken) || strings.Contains(l, secretQuery) {
			t.Errorf("stdout holds a secret: %s", l)
		}
	}
}

// TestRawNoFalseCaptures checks a traced process reading a regular file of
// request-like bytes logs nothing, nor does a file opened on the fd number
// of a just-closed connection.
func TestRawNoFalseCaptures(t *testing.T) {
	srv := harness.StartGoServer(t)
	tr := trace(t, srv.PID())
	var sent []harness.Sent
	for _, p := range []string{"/read-file", "/reuse-fd"} {
		c := harness.DialRaw(t, srv.Addr)
		id := harness.NewID("false")
		s := c.Exchange(t, "GET", p, id)
		expectStatus(t, s, 200)
		sent = append(sent, s)
	}
	line := srv.WaitLine(t, false, func(l string) bool { return strings.HasPrefix(l, "reuse ") }, waitForLogs)
	var connFD, fileFD int
	if _, err := fmt.Sscanf(line, "reuse conn_fd=%d file_fd=%d", &connFD, &fileFD); err != nil {
		t.Fatalf("server said %q: %v", line, err)
	}
	if connFD != fileFD {
		t.Fatalf("the file got fd %d, not the closed connection's fd %d: the check would prove nothing", fileFD, connFD)
	}
	// Check fails on any record no client completed, such as the file's bytes.
	finish(t, tr, "raw", sent)
}

// TestRawKeepAliveDuring sends a second request while the server still
// answers the first (Go's server then reads the first byte of the second
// alone, in its background read): both are logged once, whole.
func TestRawKeepAliveDuring(t *testing.T) {
	srv := harness.StartGoServer(t)
	tr := trace(t, srv.PID())
	c := harness.DialRaw(t, srv.Addr)
	slow, during := harness.NewID("during"), harness.NewID("during")
	first := harness.RequestText("GET", "/slow", slow)
	second := harness.RequestText("GET", "/ok/"+during, during)
	c.Send(t, first)
	time.Sleep(100 * time.Millisecond)
	c.Send(t, second)
	a := c.Sent("GET", "/slow", slow, int64(len(first)), c.Read(t, "GET"))
	b := c.Sent("GET", "/ok/"+during, during, int64(len(second)), c.Read(t, "GET"))
	expectStatus(t, a, 200)
	expectStatus(t, b, 200)
	finish(t, tr, "raw", []harness.Sent{a, b})
}
