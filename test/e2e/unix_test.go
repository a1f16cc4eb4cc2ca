// HTTP over unix-domain sockets: nginx on a unix socket in front of
// Python's http.server on another, driven by curl --unix-socket.
package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// TestUnixSockets traces nginx listening on a unix socket and proxying
// /proxy/ to Python's http.server on another unix socket, and the Python
// server itself. curl --unix-socket fetches a static file from nginx, a
// proxied path, and a path straight from Python. Every exchange is logged
// with its status by the process that served or made it, named by the
// socket paths: nginx's inbound side and its upstream call, and Python's.
func TestUnixSockets(t *testing.T) {
	harness.NeedBinary(t, "curl")
	dir := t.TempDir()
	appSock, ngxSock := filepath.Join(dir, "app.sock"), filepath.Join(dir, "nginx.sock")
	py := harness.StartPythonUnixServer(t, appSock)
	ngx := harness.StartNginxUnix(t, ngxSock, "unix:"+appSock+":")
	tr := trace(t, ngx.PID(), py.PID())

	curl := func(sock, path, id string) {
		t.Helper()
		out, err := exec.Command("curl", "-sS", "--http1.1", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}",
			"--unix-socket", sock, "-H", harness.IDHeader+": "+id, "http://localhost"+path).CombinedOutput()
		if err != nil || string(out) != "200" {
			t.Fatalf("curl --unix-socket %s %s: %s %v", sock, path, out, err)
		}
	}
	static, proxied, direct := harness.NewID("unix"), harness.NewID("unix"), harness.NewID("unix")
	curl(ngxSock, "/static/"+static, static)
	curl(ngxSock, "/proxy/ok/"+proxied, proxied)
	curl(appSock, "/ok/"+direct, direct)

	// What must be logged: id, side, the server's name, and whose record.
	want := []struct {
		id, side, server string
		pid              func(int) bool
	}{
		{static, "server", "unix:" + ngxSock, func(p int) bool { return p != py.PID() }},
		{proxied, "server", "unix:" + ngxSock, func(p int) bool { return p != py.PID() }},
		{proxied, "client", "unix:" + appSock, func(p int) bool { return p != py.PID() }},
		{proxied, "server", "unix:" + appSock, func(p int) bool { return p == py.PID() }},
		{direct, "server", "unix:" + appSock, func(p int) bool { return p == py.PID() }},
	}
	found := func(recs []harness.Record) int {
		n := 0
		for _, w := range want {
			for _, r := range recs {
				if harness.Matches(r, w.id) && r.Side == w.side && r.Server == w.server && w.pid(r.PID) {
					n++
					break
				}
			}
		}
		return n
	}
	tr.WaitFor(t, waitForLogs, func(recs []harness.Record) bool { return found(recs) == len(want) })
	time.Sleep(200 * time.Millisecond) // anything logged twice shows by now
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	good := 0
	for _, w := range want {
		var match []harness.Record
		for _, r := range recs {
			if harness.Matches(r, w.id) && r.Side == w.side && r.Server == w.server && w.pid(r.PID) {
				match = append(match, r)
			}
		}
		switch {
		case len(match) != 1:
			t.Errorf("%s (%s, %s): %d records, want 1", w.id, w.side, w.server, len(match))
		case match[0].Status != 200 || match[0].Incomplete || match[0].Unmatched || match[0].Gap ||
			match[0].RequestBytes <= 0 || match[0].ResponseBytes <= 0 || !strings.HasPrefix(match[0].Client, "unix:"):
			t.Errorf("%s (%s, %s) logged wrong: %s", w.id, w.side, w.server, match[0].Line)
		default:
			good++
		}
	}
	harness.CheckSummary(t, sum, recs)
	fmt.Printf("e2e-result: suite=unix mode=%s exchanges=%d/%d\n", tr.Mode, good, len(want))
}
