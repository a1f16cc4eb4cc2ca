// One suite per real server: the same mix of requests from real clients.
package e2e

import (
	"os/exec"
	"testing"

	"github.com/httptrace/httptrace/test/harness"
)

// paths are where a server answers 200, 404 and a POST, for one request id.
type paths struct {
	ok, notFound, post func(id string) string
}

// appPaths fit the Go, Node and Python test servers.
var appPaths = paths{
	ok:       func(id string) string { return "/ok/" + id },
	notFound: func(id string) string { return "/status/404/" + id },
	post:     func(id string) string { return "/post/" + id },
}

// nginxPaths fit the generated nginx configuration: a static file, return locations.
var nginxPaths = paths{
	ok:       func(id string) string { return "/static/" + id },
	notFound: func(id string) string { return "/status/404/" + id },
	post:     func(id string) string { return "/post/" + id },
}

// traffic sends the suite's mix to addr and returns what the clients got:
// GETs on new connections, a 404, a POST with a body, a HEAD, three GETs on
// one kept-alive connection, and two requests with curl (Go's client where
// curl is missing).
func traffic(t *testing.T, addr string, p paths, prefix string) []harness.Sent {
	t.Helper()
	var sent []harness.Sent
	send := func(c *harness.Client, method, path, body, id string, want int) {
		t.Helper()
		url := "http://" + addr + path
		h := map[string]string{harness.IDHeader: id}
		var a harness.Answer
		if c == nil {
			a = harness.Curl(t, method, url, body, h)
		} else {
			a = c.Do(t, method, url, body, h)
		}
		s := harness.Sent{ID: id, Method: method, Path: path, Answer: a, Server: addr}
		expectStatus(t, s, want)
		sent = append(sent, s)
	}
	one := harness.NewClient(false)
	for i := 0; i < 3; i++ {
		id := harness.NewID(prefix)
		send(one, "GET", p.ok(id), "", id, 200)
	}
	id := harness.NewID(prefix)
	send(one, "GET", p.notFound(id), "", id, 404)
	id = harness.NewID(prefix)
	send(one, "POST", p.post(id), "a small request body", id, 200)
	id = harness.NewID(prefix)
	send(one, "HEAD", p.ok(id), "", id, 200)
	kept := harness.NewClient(true)
	for i := 0; i < 3; i++ {
		id := harness.NewID(prefix)
		send(kept, "GET", p.ok(id), "", id, 200)
	}
	kept.Close()
	var curl *harness.Client
	if _, err := exec.LookPath("curl"); err != nil {
		curl = one
	}
	for i := 0; i < 2; i++ {
		id := harness.NewID(prefix)
		send(curl, "GET", p.ok(id), "", id, 200)
	}
	return sent
}

// runSuite traces one server while an identical untraced twin gets the
// same mix, and checks every exchange with the traced one is logged
// exactly once and right, and nothing of the twin is.
func runSuite(t *testing.T, suite string, start func(testing.TB) *harness.Server, p paths) {
	traced := start(t)
	twin := start(t)
	tr := trace(t, traced.PID())
	sent := traffic(t, traced.Addr, p, suite)
	traffic(t, twin.Addr, p, suite+"-twin")
	noneFrom(t, tr, twin.PID())
	finish(t, tr, suite, sent)
	noneFrom(t, tr, twin.PID())
}

func TestGo(t *testing.T) { runSuite(t, "go", harness.StartGoServer, appPaths) }

func TestNode(t *testing.T) { runSuite(t, "node", harness.StartNodeServer, appPaths) }

func TestPython(t *testing.T) { runSuite(t, "python", harness.StartPythonServer, appPaths) }

// TestNginx traces nginx by its master's PID: two workers forked before
// httptrace started; then `nginx -s reload` forks two new workers, which
// must be traced too without restarting httptrace.
func TestNginx(t *testing.T) {
	ngx := harness.StartNginx(t)
	twin := harness.StartNginx(t)
	tr := trace(t, ngx.PID())

	before := ngx.Workers()
	sent := traffic(t, ngx.Addr, nginxPaths, "nginx")
	checkServedBy(t, sent, before)
	tr.WaitFor(t, waitForLogs, harness.AllLogged(sent))

	after := ngx.Reload(t)
	reloaded := traffic(t, ngx.Addr, nginxPaths, "nginx-reload")
	checkServedBy(t, reloaded, after)
	traffic(t, twin.Addr, nginxPaths, "nginx-twin")

	good := finish(t, tr, "nginx", append(sent, reloaded...))
	noneFrom(t, tr, append(twin.Workers(), twin.PID())...)
	n := 0
	for _, s := range reloaded {
		if good[s.ID] {
			n++
		}
	}
	t.Logf("workers %v, after reload %v; %d/%d exchanges after the reload logged right", before, after, n, len(reloaded))
}

// checkServedBy fails the test when a request was not served by one of the
// given workers: the premise of the reload check.
func checkServedBy(t *testing.T, sent []harness.Sent, workers []int) {
	t.Helper()
	for _, s := range sent {
		ok := false
		for _, w := range workers {
			ok = ok || s.ServerPID == w
		}
		if !ok {
			t.Fatalf("%s %s was served by pid %d, not by a worker of %v", s.Method, s.Path, s.ServerPID, workers)
		}
	}
}
