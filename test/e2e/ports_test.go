// Selection by TCP port: whatever listens on a port, and only its
// connections on that port; or, on the client side, connections to a port.
package e2e

import (
	"net"
	"os/exec"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/test/harness"
)

// portOf is the port of a host:port address.
func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// TestPortSelection selects by --port alone: an nginx running before
// httptrace, an nginx and a Go server that start listening after it (the
// nginx's workers forked later), and a Go server whose handler calls an
// nginx on a port not selected. Every exchange on the selected ports is logged; the other
// nginx, and the Go server's own call to it (a connection of a traced
// process, not on a selected port), are not: that connection is skipped in
// the kernel and counted.
func TestPortSelection(t *testing.T) {
	harness.RequireRoot(t)
	a := harness.StartNginx(t)
	other := harness.StartNginx(t)
	g := harness.StartGoServer(t)
	addrC, addrLate := harness.FreeAddr(t), harness.FreeAddr(t)
	tr := harness.StartTracer(t, harness.Mode(), nil,
		"--port", portOf(t, a.Addr), "--port", portOf(t, addrC), "--port", portOf(t, g.Addr), "--port", portOf(t, addrLate))

	sent := traffic(t, a.Addr, nginxPaths, "port-a")
	traffic(t, other.Addr, nginxPaths, "port-other")
	c := harness.StartNginxAt(t, addrC)
	sent = append(sent, traffic(t, c.Addr, nginxPaths, "port-late")...)
	// A Go server started now: Go listens with multipath TCP where the
	// kernel has it.
	late := harness.StartGoServerAt(t, addrLate)
	sent = append(sent, traffic(t, late.Addr, appPaths, "port-late-go")...)
	client := harness.NewClient(false)
	for range 3 {
		id := harness.NewID("port-call")
		path := "/call/" + other.Addr + "/static/" + id
		ans := client.Do(t, "GET", "http://"+g.Addr+path, "", map[string]string{harness.IDHeader: id})
		if ans.Status != 200 {
			t.Fatalf("%s: the Go server answered %d", path, ans.Status)
		}
		sent = append(sent, harness.Sent{ID: id, Method: "GET", Path: path, Answer: ans})
	}

	tr.WaitFor(t, waitForLogs, harness.AllLogged(sent))
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	good := harness.Check(t, recs, sent) // once each: the Go server's call to the other nginx is not logged
	harness.CheckSummary(t, sum, recs)
	noneFrom(t, tr, append(other.Workers(), other.PID())...)
	for _, r := range recs {
		if r.Side != "server" {
			t.Errorf("a client-side exchange was logged: %s", r.Line)
		}
	}
	if n := summaryCount(sum.Line, "bpf_conns_unselected"); n < 3 {
		t.Errorf("summary: bpf_conns_unselected=%d, want the Go server's 3 calls at least: %s", n, sum.Line)
	}
	if n := summaryCount(sum.Line, "bpf_port_listeners"); n != 2 {
		t.Errorf("summary: bpf_port_listeners=%d, want the nginx and the Go server started later: %s", n, sum.Line)
	}
	harness.Result("ports", tr.Mode, good, sent)
}

// TestPortClientSide selects --port N --side client and nothing else: the
// connections of any process to port N. curl calls a Go server on N and an
// nginx on another port; only curl's exchanges with N are logged, from
// curl's side (the Go server is not traced: its end of the connection has
// N as its local port).
func TestPortClientSide(t *testing.T) {
	harness.RequireRoot(t)
	harness.NeedBinary(t, "curl")
	g := harness.StartGoServer(t)
	other := harness.StartNginx(t)
	tr := harness.StartTracer(t, harness.Mode(), nil, "--port", portOf(t, g.Addr), "--side", "client")

	var sent []harness.Sent
	for range 3 {
		id := harness.NewID("client-port")
		path := "/ok/" + id
		ans := harness.Curl(t, "GET", "http://"+g.Addr+path, "", map[string]string{harness.IDHeader: id})
		sent = append(sent, harness.Sent{ID: id, Method: "GET", Path: path, Answer: ans, ClientSide: true})
		harness.Curl(t, "GET", "http://"+other.Addr+"/static/"+id+"-other", "", nil)
	}
	tr.WaitFor(t, waitForLogs, harness.AllLogged(sent))
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	good := harness.Check(t, recs, sent)
	harness.CheckSummary(t, sum, recs)
	for _, r := range recs {
		if r.Side != "client" || r.Comm != "curl" || !strings.HasSuffix(r.Server, ":"+portOf(t, g.Addr)) {
			t.Errorf("want only curl's client side of port %s: %s", portOf(t, g.Addr), r.Line)
		}
	}
	// The kernel left out the other connections (the Go server's end, the
	// calls to the other port): the --side filter had nothing to drop.
	if out, n := summaryCount(sum.Line, "filtered_out"), summaryCount(sum.Line, "bpf_conns_unselected"); out != 0 || n < 3 {
		t.Errorf("summary: filtered_out=%d (want 0) bpf_conns_unselected=%d (want at least 3): %s", out, n, sum.Line)
	}
	harness.Result("client-port", tr.Mode, good, sent)
}

// TestPortNothingListening: --port on a port nothing serves keeps running,
// exits 0 at --duration, and warns once that no process served it.
func TestPortNothingListening(t *testing.T) {
	harness.RequireRoot(t)
	port := portOf(t, harness.FreeAddr(t))
	out, err := exec.Command(harness.Bin(t), "--attach", harness.Mode(), "--port", port, "--duration", "1s").CombinedOutput()
	if err != nil {
		t.Fatalf("httptrace --port %s --duration 1s: %v\n%s", port, err, out)
	}
	if n := strings.Count(string(out), "level=warning msg=\"no process served these TCP ports while httptrace ran\""); n != 1 {
		t.Errorf("warned %d times that no process served the port, want once:\n%s", n, out)
	}
}
