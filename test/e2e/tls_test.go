// HTTPS: the plaintext of TLS connections, read by uprobes on OpenSSL.
package e2e

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// tlsDial opens a TLS connection to addr that takes the test's own
// certificate and speaks HTTP/1.1.
func tlsDial(t *testing.T, addr string) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}) //nolint:gosec // the test's certificate
	if err != nil {
		t.Fatalf("TLS dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAnswers reads n answers from br and returns their statuses.
func readAnswers(t *testing.T, br *bufio.Reader, method string, n int) []int {
	t.Helper()
	var out []int
	for i := 0; i < n; i++ {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("reading answer %d: %v", i, err)
		}
		if _, err := bufio.NewReader(resp.Body).WriteTo(devNull{}); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		out = append(out, resp.StatusCode)
	}
	return out
}

type devNull struct{}

func (devNull) Write(b []byte) (int, error) { return len(b), nil }

// TestTLSNginx traces nginx serving HTTPS, by its master PID (the workers
// were forked before), with /proxy/ forwarded over plaintext HTTP to an
// untraced Go server. Every exchange is logged as a plaintext one would
// be, with tls: new connections and a kept-alive one, a 64 KiB request
// body, a request written in many TLS records (many SSL_read calls), two
// requests pipelined in one write, and a secret header that is redacted.
// The proxied requests are logged twice: inbound with tls, the upstream
// call (a plaintext connection of the same process) without it.
func TestTLSNginx(t *testing.T) {
	up := harness.StartGoServer(t)
	ngx := harness.StartNginxTLS(t, up.Addr)
	tr := trace(t, ngx.PID())
	var sent []harness.Sent
	add := func(s harness.Sent) {
		s.TLS, s.Server = true, ngx.Addr
		sent = append(sent, s)
	}

	// New connections, and one kept alive.
	for _, keep := range []bool{false, true} {
		c := harness.NewTLSClient(keep)
		for i := 0; i < 3; i++ {
			id := harness.NewID("tls")
			a := c.Do(t, "GET", ngx.HTTPS("/status/200/"+id), "", map[string]string{harness.IDHeader: id})
			add(harness.Sent{ID: id, Method: "GET", Path: "/status/200/" + id, Answer: a})
		}
		c.Close()
	}
	// A 64 KiB request body, which nginx reads whole to forward it.
	body := strings.Repeat("0123456789abcdef", 4096)
	post := harness.NewID("tls-post")
	c := harness.NewTLSClient(false)
	a := c.Do(t, "POST", ngx.HTTPS("/proxy/body/"+post), body, map[string]string{harness.IDHeader: post})
	a.ServerPID = 0 // the upstream's X-Server-Pid comes first
	add(harness.Sent{ID: post, Method: "POST", Path: "/proxy/body/" + post, Answer: a})
	// A secret, redacted like any other.
	secret := harness.NewID("tls-secret")
	a = c.Do(t, "GET", ngx.HTTPS("/status/200/"+secret), "", map[string]string{harness.IDHeader: secret, "Authorization": "Bearer tls-secret-token"})
	add(harness.Sent{ID: secret, Method: "GET", Path: "/status/200/" + secret, Answer: a})

	// A request in many TLS records: a write per 7 bytes.
	split := harness.NewID("tls-split")
	conn := tlsDial(t, ngx.Addr)
	req := harness.RequestText("GET", "/status/200/"+split, split)
	for i := 0; i < len(req); i += 7 {
		if _, err := conn.Write([]byte(req[i:min(i+7, len(req))])); err != nil {
			t.Fatal(err)
		}
	}
	br := bufio.NewReader(conn)
	if st := readAnswers(t, br, "GET", 1); st[0] != 200 {
		t.Fatalf("split request: status %d", st[0])
	}
	add(harness.Sent{ID: split, Method: "GET", Path: "/status/200/" + split, Answer: harness.Answer{Status: 200}})
	// Two requests pipelined in one write.
	p1, p2 := harness.NewID("tls-pipe"), harness.NewID("tls-pipe")
	if _, err := conn.Write([]byte(harness.RequestText("GET", "/status/200/"+p1, p1) + harness.RequestText("GET", "/status/404/"+p2, p2))); err != nil {
		t.Fatal(err)
	}
	st := readAnswers(t, br, "GET", 2)
	add(harness.Sent{ID: p1, Method: "GET", Path: "/status/200/" + p1, Answer: harness.Answer{Status: st[0]}})
	add(harness.Sent{ID: p2, Method: "GET", Path: "/status/404/" + p2, Answer: harness.Answer{Status: st[1]}})

	// Proxied over plaintext: the inbound exchange is TLS, the upstream call is not.
	prox := harness.NewID("tls-proxy")
	a = c.Do(t, "GET", ngx.HTTPS("/proxy/ok/"+prox), "", map[string]string{harness.IDHeader: prox})
	a.ServerPID = 0 // the upstream's X-Server-Pid comes first
	add(harness.Sent{ID: prox, Method: "GET", Path: "/proxy/ok/" + prox, Answer: a})
	c.Close()

	tr.WaitFor(t, waitForLogs, func(rs []harness.Record) bool {
		return harness.AllLogged(sent)(rs) && upstreamLogged(rs, prox) && upstreamLogged(rs, post)
	})
	time.Sleep(200 * time.Millisecond) // anything logged twice shows by now
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	inbound, upstream := harness.BySide(recs)
	good := harness.Check(t, inbound, sent)
	okUp := len(upstream) == 2
	for _, r := range upstream {
		switch {
		case r.TLS || r.Server != up.Addr || r.Status != 200:
			okUp = false
		case harness.Matches(r, prox):
			okUp = okUp && r.Path == "/ok/"+prox
		case harness.Matches(r, post):
			okUp = okUp && r.Path == "/body/"+post && r.RequestBytes >= int64(len(body))
		default:
			okUp = false
		}
	}
	if !okUp {
		t.Errorf("the plaintext upstream calls: want two records without tls, /ok/%s and /body/%s with the body, got:%s", prox, post, recordLines(upstream))
	}
	for _, r := range inbound {
		if harness.Matches(r, secret) {
			if h := r.Header("Authorization"); strings.Contains(h, "tls-secret-token") || h == "" {
				t.Errorf("Authorization over TLS logged as %q, want it redacted", h)
			}
		}
		if harness.Matches(r, post) && r.RequestBytes < int64(len(body)) {
			t.Errorf("the 64 KiB POST logged with request_bytes %d", r.RequestBytes)
		}
	}
	harness.CheckSummary(t, sum, recs)
	if sum.TLSLibraries < 1 || sum.TLSUnprobed != 0 || sum.BPFTLSUnplaced != 0 || sum.BPFTLSCiphertext == 0 {
		t.Errorf("summary: tls_libraries=%d tls_unprobed=%d bpf_tls_unplaced=%d bpf_tls_ciphertext=%d, want >=1, 0, 0, >0: %s",
			sum.TLSLibraries, sum.TLSUnprobed, sum.BPFTLSUnplaced, sum.BPFTLSCiphertext, sum.Line)
	}
	harness.Result("tls", tr.Mode, good, sent)
}

func upstreamLogged(rs []harness.Record, id string) bool {
	for _, r := range rs {
		if r.Side == "client" && harness.Matches(r, id) {
			return true
		}
	}
	return false
}

func recordLines(rs []harness.Record) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString("\n  " + r.Line)
	}
	return b.String()
}

// adoptedTLS uses an HTTPS connection to srv (served by pid) once, starts
// httptrace, then sends two more requests for path+id on it, and returns
// the tracer and the two exchanges, adopted.
func adoptedTLS(t *testing.T, addr string, pid int, path, prefix string) (*harness.Tracer, []harness.Sent) {
	t.Helper()
	conn := tlsDial(t, addr)
	br := bufio.NewReader(conn)
	var tr *harness.Tracer
	var sent []harness.Sent
	for i := 0; i < 3; i++ {
		id := harness.NewID(prefix)
		if _, err := conn.Write([]byte(harness.RequestText("GET", path+id, id))); err != nil {
			t.Fatal(err)
		}
		st := readAnswers(t, br, "GET", 1)
		if i == 0 {
			tr = trace(t, pid)
			continue
		}
		sent = append(sent, harness.Sent{ID: id, Method: "GET", Path: path + id, Answer: harness.Answer{Status: st[0]},
			TLS: true, Adopted: true, Server: addr})
	}
	return tr, sent
}

// TestTLSAdopted opens an HTTPS connection to nginx and uses it before
// httptrace starts: the exchange after the start is logged, with tls and
// adopted.
func TestTLSAdopted(t *testing.T) {
	ngx := harness.StartNginxTLS(t, "127.0.0.1:9")
	tr, sent := adoptedTLS(t, ngx.Addr, ngx.PID(), "/status/201/", "tls-adopted")
	finish(t, tr, "tls", sent)
}

// TestTLSPythonLateLoad traces Python before it imports ssl: the library
// is loaded with dlopen while httptrace runs, and probed when it is
// mapped: the exchanges after that are logged, and the summary says how
// long after the mapping the probes were in.
func TestTLSPythonLateLoad(t *testing.T) {
	py := harness.StartPythonTLSServer(t)
	tr := trace(t, py.PID())
	srv := py.Listen(t)
	// What happens between the dlopen and the probes is not traced (the
	// window tls_probe_delay_max measures): the requests follow the probes.
	tr.WaitLine(t, true, func(l string) bool {
		return strings.Contains(l, `"msg":"TLS library probed"`) && strings.Contains(l, "libssl")
	}, waitForLogs)
	c := harness.NewTLSClient(false)
	var sent []harness.Sent
	for i := 0; i < 3; i++ {
		id := harness.NewID("tls-py")
		a := c.Do(t, "GET", srv.HTTPS("/late/"+id), "", map[string]string{harness.IDHeader: id})
		sent = append(sent, harness.Sent{ID: id, Method: "GET", Path: "/late/" + id, Answer: a, TLS: true, Server: srv.Addr})
	}
	tr.WaitFor(t, waitForLogs, harness.AllLogged(sent))
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	good := harness.Check(t, recs, sent)
	harness.CheckSummary(t, sum, recs)
	if sum.BPFTLSMapped < 1 || sum.TLSLibraries < 1 || sum.TLSProbeDelayMax == "" || sum.TLSProbeDelayMax == "0s" {
		t.Errorf("summary: bpf_tls_mapped=%d tls_libraries=%d tls_probe_delay_max=%q, want the late library seen, probed and timed: %s",
			sum.BPFTLSMapped, sum.TLSLibraries, sum.TLSProbeDelayMax, sum.Line)
	}
	t.Logf("libssl probed %s after Python mapped it", sum.TLSProbeDelayMax)
	// A bound far above what it takes (milliseconds), below a stall.
	if d, err := time.ParseDuration(sum.TLSProbeDelayMax); err != nil || d > 2*time.Second*harness.Slowdown() {
		t.Errorf("tls_probe_delay_max %q: want a duration under %s", sum.TLSProbeDelayMax, 2*time.Second*harness.Slowdown())
	}
	harness.Result("tls", tr.Mode, good, sent)
}

// TestTLSNode traces Node's https module: its OpenSSL is linked into the
// executable (NodeSource builds) or is the system's libssl (Debian's), and
// it feeds OpenSSL from memory, so no syscall is nested in SSL_read.
func TestTLSNode(t *testing.T) {
	srv := harness.StartNodeTLSServer(t)
	tr := trace(t, srv.PID())
	var sent []harness.Sent
	for _, keep := range []bool{false, true} {
		c := harness.NewTLSClient(keep)
		for i := 0; i < 3; i++ {
			id := harness.NewID("tls-node")
			a := c.Do(t, "GET", srv.HTTPS("/node/"+id), "", map[string]string{harness.IDHeader: id})
			sent = append(sent, harness.Sent{ID: id, Method: "GET", Path: "/node/" + id, Answer: a, TLS: true, Server: srv.Addr})
		}
		c.Close()
	}
	finish(t, tr, "tls", sent)
}

// TestTLSCurlClient traces curl by name, started after httptrace: each
// HTTPS request it makes is logged on its client side, with tls.
func TestTLSCurlClient(t *testing.T) {
	curl := harness.NeedBinary(t, "curl")
	ngx := harness.StartNginxTLS(t, "127.0.0.1:9")
	harness.RequireRoot(t)
	tr := harness.StartTracer(t, harness.Mode(), nil, "--comm", "curl")
	var sent []harness.Sent
	for i := 0; i < 3; i++ {
		id := harness.NewID("tls-curl")
		out, err := exec.Command(curl, "-sk", "--http1.1", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}",
			"-H", harness.IDHeader+": "+id, ngx.HTTPS("/status/200/"+id)).CombinedOutput()
		if err != nil {
			t.Fatalf("curl: %v %s", err, out)
		}
		code, _ := strconv.Atoi(string(out))
		sent = append(sent, harness.Sent{ID: id, Method: "GET", Path: "/status/200/" + id, Answer: harness.Answer{Status: code},
			TLS: true, ClientSide: true, Server: ngx.Addr})
	}
	good := finish(t, tr, "", sent)
	fmt.Printf("e2e-result: suite=tls mode=%s exchanges=%d/%d\n", tr.Mode, len(good), len(sent))
}

// TestTLSUntracedNeighbour: a process that maps the same libssl but is
// not traced never stops at the probes. Traced by PID, only the traced
// processes' copies of SSL_read hold a breakpoint (0xcc, read from the
// process's memory); traced by name, the library is probed for every
// process, and the neighbour's copy holds one too.
func TestTLSUntracedNeighbour(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("reads the x86 breakpoint instruction (0xcc)")
	}
	ngx := harness.StartNginxTLS(t, "127.0.0.1:9")
	py := harness.NeedBinary(t, "python3")
	neighbour := exec.Command(py, "-c", "import ssl, sys, time; print('up', flush=True); time.sleep(120)")
	out, err := neighbour.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := neighbour.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { neighbour.Process.Kill(); neighbour.Wait() })
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("python3 with ssl imported: %v", err)
	}
	workers := harness.Children(ngx.PID())
	if len(workers) == 0 {
		t.Fatal("nginx has no workers")
	}
	if b := harness.FirstByteOf(t, neighbour.Process.Pid, "libssl.so", "SSL_read"); b == 0xcc {
		t.Fatal("SSL_read of python3 holds a breakpoint before any tracer ran")
	}

	tr := trace(t, ngx.PID())
	for _, w := range workers {
		if b := harness.FirstByteOf(t, w, "libssl.so", "SSL_read"); b != 0xcc {
			t.Errorf("traced nginx worker %d: SSL_read starts with %#x, want the probe's breakpoint 0xcc", w, b)
		}
	}
	if b := harness.FirstByteOf(t, neighbour.Process.Pid, "libssl.so", "SSL_read"); b == 0xcc {
		t.Error("untraced python3: SSL_read holds a breakpoint while only nginx is traced")
	}
	tr.StopAndSummary(t)

	byName := harness.StartTracer(t, harness.Mode(), nil, "--comm", "curl")
	if b := harness.FirstByteOf(t, neighbour.Process.Pid, "libssl.so", "SSL_read"); b != 0xcc {
		t.Errorf("traced by name, the host's libssl is probed for every process: python3's SSL_read starts with %#x, want 0xcc", b)
	}
	byName.StopAndSummary(t)
	if b := harness.FirstByteOf(t, neighbour.Process.Pid, "libssl.so", "SSL_read"); b == 0xcc {
		t.Error("python3's SSL_read still holds a breakpoint after the tracer stopped")
	}
}

// TestTLSNginxReload: workers nginx forks while traced (a reload) get
// their own probes when their fork is seen and their HTTPS exchanges are
// logged; the old workers' probes are detached when they exit, so the
// tracer holds as many probe events as before.
func TestTLSNginxReload(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("reads the x86 breakpoint instruction (0xcc)")
	}
	ngx := harness.StartNginxTLS(t, "127.0.0.1:9")
	tr := trace(t, ngx.PID())
	before := perfEvents(t, tr.PID())
	if before == 0 {
		t.Fatal("the tracer holds no perf events")
	}
	workers := ngx.Reload(t)
	deadline := time.Now().Add(waitForLogs)
	for _, w := range workers {
		for harness.FirstByteOf(t, w, "libssl.so", "SSL_read") != 0xcc {
			if time.Now().After(deadline) {
				t.Fatalf("new nginx worker %d: SSL_read holds no breakpoint", w)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	var sent []harness.Sent
	c := harness.NewTLSClient(false)
	for i := 0; i < 4; i++ {
		id := harness.NewID("tls-reload")
		a := c.Do(t, "GET", ngx.HTTPS("/status/200/"+id), "", map[string]string{harness.IDHeader: id})
		sent = append(sent, harness.Sent{ID: id, Method: "GET", Path: "/status/200/" + id, Answer: a, TLS: true, Server: ngx.Addr})
	}
	tr.WaitFor(t, waitForLogs, harness.AllLogged(sent))
	for now := perfEvents(t, tr.PID()); now != before; now = perfEvents(t, tr.PID()) {
		if time.Now().After(deadline) {
			t.Fatalf("the tracer holds %d perf events after the reload, %d before: the old workers' probes were not detached", now, before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	good := harness.Check(t, recs, sent)
	harness.CheckSummary(t, sum, recs)
	harness.Result("tls", tr.Mode, good, sent)
}

// perfEvents counts the perf event descriptors process pid holds (a
// uprobe, kprobe or tracepoint link each).
func perfEvents(t *testing.T, pid int) int {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/" + e.Name()); err == nil && l == "anon_inode:[perf_event]" {
			n++
		}
	}
	return n
}
