// Package bpftracediff checks that the generated bpftrace program and
// httptrace see the same exchanges: both trace one real server side by
// side while requests are sent to it: the Go test server, which reads and
// writes with read(2) and write(2); Python's http.server, which uses
// recvfrom(2) and sendto(2); nginx, whose workers answer with writev(2);
// nginx over TLS, seen through the uprobes on OpenSSL; and the
// syscall-path server, which reads with each of read, readv,
// recvfrom and recvmsg and answers with each of write, writev, sendto,
// sendmsg and sendfile.
package bpftracediff

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/preflight"
	"github.com/httptrace/httptrace/test/harness"
	"github.com/httptrace/httptrace/test/servers/syscalls"
)

func TestMain(m *testing.M) { harness.Main(m) }

const (
	warmupMax = 50 // warm-up requests before giving up on the tools attaching
	settle    = 10 * time.Second
	stopLimit = 45 * time.Second // for bpftrace to exit after SIGINT, then after SIGKILL
)

// waitLimit bounds each wait on bpftrace: attaching and detaching its
// probes takes long under the guests' emulation.
var waitLimit = 60 * time.Second * harness.Slowdown()

// vmlinuxBTF is the kernel's own BTF.
const vmlinuxBTF = "/sys/kernel/btf/vmlinux"

// bpftraceCmd runs bpftrace on a script. bpftrace 0.17 finds the kernel's
// BTF by the name the BPF syscall gives it, which kernels before 5.11 do
// not give; without BTF it cannot type tracepoint arguments (u64, size_t).
// Naming the file with BPFTRACE_BTF works on every kernel.
func bpftraceCmd(bpftrace, script string) *exec.Cmd {
	cmd := exec.Command(bpftrace, script)
	if _, err := os.Stat(vmlinuxBTF); err == nil && os.Getenv("BPFTRACE_BTF") == "" {
		cmd.Env = append(os.Environ(), "BPFTRACE_BTF="+vmlinuxBTF)
	}
	return cmd
}

// needBpftrace returns bpftrace's path after checking what running it
// needs: root, bpftrace itself, and tracefs (mounted here if a fresh boot
// has not). A missing piece fails the test.
func needBpftrace(t *testing.T) string {
	t.Helper()
	harness.RequireRoot(t)
	bpftrace, err := exec.LookPath("bpftrace")
	if err != nil {
		t.Fatal("bpftrace is required for this test (make deps installs it)")
	}
	if _, err := preflight.Tracefs(); err != nil {
		t.Fatal(err)
	}
	return bpftrace
}

// pythonServer is Python's http.server answering any method with the
// status the path ends with (/…/404), or 200.
const pythonServer = `
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def answer(self, body=True):
        last = self.path.rsplit('/', 1)[-1]
        self.send_response(int(last) if last.isdigit() and len(last) == 3 else 200)
        self.send_header('Content-Length', '3')
        self.end_headers()
        if body:
            self.wfile.write(b'ok\n')
    def do_HEAD(self):
        self.answer(False)
    def __getattr__(self, name):
        if name.startswith('do_'):
            return self.answer
        raise AttributeError(name)
    def log_message(self, *args):
        pass
s = http.server.HTTPServer(('127.0.0.1', 0), H)
print('listening 127.0.0.1:%d' % s.server_address[1], flush=True)
s.serve_forever()
`

// client sends requests without keep-alive and takes any status; over
// HTTPS it takes the test's own certificate and speaks HTTP/1.1.
var client = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
	DisableKeepAlives: true,
	TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the test's own certificate
	TLSNextProto:      map[string]func(string, *tls.Conn) http.RoundTripper{},
}}

// send sends one request and returns the status.
func send(t *testing.T, method, url string) int {
	t.Helper()
	var body *strings.Reader
	if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		body = strings.NewReader("body")
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// target is a running server: its PID, and the URL of its i-th request
// for a path.
type target struct {
	pid int
	url func(i int, path string) string
}

// oneAddr is a server that listens on one address.
func oneAddr(s *harness.Server) target {
	return target{pid: s.PID(), url: func(_ int, path string) string { return s.URL(path) }}
}

// server is one server under test and the requests it gets.
type server struct {
	name     string
	start    func(t *testing.T) target
	requests int
	methods  []string
	statuses []int // status asked for by the i-th request, cycling
	// path is the i-th request's path, which asks for status want and
	// contains marker; nil for /<marker>/<tag>/<i>/<want>.
	path func(marker, tag string, i, want int) string
	// workers: the requests are answered by the server's children (nginx
	// workers), so both tools report their PIDs, not the server's.
	workers bool
}

// requestPath is the i-th request's path on server s.
func (s server) requestPath(marker, tag string, i, want int) string {
	if s.path != nil {
		return s.path(marker, tag, i, want)
	}
	return fmt.Sprintf("/%s/%s/%d/%d", marker, tag, i, want)
}

var servers = []server{
	{
		name:     "go",
		start:    func(t *testing.T) target { return oneAddr(harness.StartGoServer(t)) },
		requests: 12,
		methods:  []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "PROPFIND"},
		statuses: []int{200},
	},
	{
		name: "python",
		start: func(t *testing.T) target {
			py, err := exec.LookPath("python3")
			if err != nil {
				t.Skip("python3 is not installed: the Python http.server comparison did not run")
			}
			p := harness.Start(t, exec.Command(py, "-c", pythonServer))
			line := p.WaitLine(t, false, func(l string) bool { return strings.HasPrefix(l, "listening ") }, 30*time.Second)
			return oneAddr(&harness.Server{Proc: p, Addr: strings.TrimPrefix(line, "listening ")})
		},
		requests: 12,
		methods:  []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"},
		statuses: []int{200, 404, 201, 500, 302, 418},
	},
	{
		// nginx answers with writev(2): headers in the first iovec.
		name:     "nginx",
		start:    func(t *testing.T) target { return oneAddr(harness.StartNginx(t).Server) },
		requests: 12,
		methods:  []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"},
		statuses: []int{200, 404, 201, 500, 204},
		// The harness's nginx answers /status/<code>/… with that code.
		path: func(marker, tag string, i, want int) string {
			return fmt.Sprintf("/status/%d/%s/%s/%d", want, marker, tag, i)
		},
		workers: true,
	},
	{
		// nginx over TLS: the program's uprobes on libssl against
		// httptrace's, on the same exchanges.
		name: "nginx-tls",
		start: func(t *testing.T) target {
			ngx := harness.StartNginxTLS(t, "127.0.0.1:9")
			return target{pid: ngx.PID(), url: func(_ int, path string) string { return ngx.HTTPS(path) }}
		},
		requests: 12,
		methods:  []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"},
		statuses: []int{200, 404, 201, 500, 204},
		path: func(marker, tag string, i, want int) string {
			return fmt.Sprintf("/status/%d/%s/%s/%d", want, marker, tag, i)
		},
		workers: true,
	},
	{
		// The i-th request goes to the port of read path i mod 4 and asks
		// for write path i mod 5: the 20 requests take every pair.
		name: "syscalls",
		start: func(t *testing.T) target {
			srv := harness.StartSyscallServer(t)
			for _, rx := range syscalls.Reads {
				if srv.Addrs[rx] == "" {
					t.Fatalf("the syscall server has no port for %s: %v", rx, srv.Addrs)
				}
			}
			return target{pid: srv.PID(), url: func(i int, path string) string {
				return "http://" + srv.Addrs[syscalls.Reads[i%len(syscalls.Reads)]] + path
			}}
		},
		requests: len(syscalls.Reads) * len(syscalls.Writes),
		methods:  []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"},
		statuses: []int{200},
		// The server answers /tx/<write>/… through that write path.
		path: func(marker, tag string, i, _ int) string {
			return fmt.Sprintf("/tx/%s/%s/%s/%d", syscalls.Writes[i%len(syscalls.Writes)], marker, tag, i)
		},
	},
}

func TestSameRequests(t *testing.T) {
	bpftrace := needBpftrace(t)
	mode := harness.Mode()
	agreed, sent := 0, 0
	defer func() {
		fmt.Printf("e2e-result: suite=bpftrace-diff mode=%s requests=%d/%d\n", mode, agreed, sent)
	}()
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			n, m := compare(t, bpftrace, mode, s)
			agreed, sent = agreed+n, sent+m
		})
	}
}

// startBoth starts the program httptrace writes for pid and mode
// (resolved on this kernel) under bpftrace, then httptrace, side by side.
func startBoth(t *testing.T, bpftrace, mode string, pid int) (*harness.Proc, *harness.Tracer) {
	t.Helper()
	script, err := exec.Command(harness.Bin(t), "bpftrace", "--pid", strconv.Itoa(pid), "--attach", mode).Output()
	if err != nil {
		t.Fatalf("httptrace bpftrace: %v", err)
	}
	scriptPath := filepath.Join(t.TempDir(), "httptrace.bt")
	if err := os.WriteFile(scriptPath, script, 0o644); err != nil {
		t.Fatal(err)
	}
	bt := harness.Start(t, bpftraceCmd(bpftrace, scriptPath))
	bt.WaitLine(t, false, func(l string) bool { return strings.HasPrefix(l, "Tracing HTTP") }, waitLimit)
	return bt, harness.StartTracer(t, mode, []int{pid})
}

// stopBoth stops bpftrace, then httptrace, and returns httptrace's summary.
// bpftrace 0.17 sometimes takes minutes to detach under the guests'
// emulation; what it printed by then is what is compared.
func stopBoth(t *testing.T, bt *harness.Proc, ht *harness.Tracer) harness.Summary {
	t.Helper()
	if exited, err := bt.Interrupt(stopLimit); !exited {
		t.Logf("bpftrace did not exit within %s of SIGINT and was killed; its output so far is compared", stopLimit)
	} else if err != nil {
		t.Errorf("bpftrace exited with %v\n%s", err, strings.Join(bt.Stderr(), "\n"))
	}
	return ht.StopAndSummary(t)
}

// compare runs the program and httptrace on one server, sends it the
// requests, and returns how many of them both reported alike, of how many.
func compare(t *testing.T, bpftrace, mode string, s server) (int, int) {
	srv := s.start(t)
	pid := srv.pid

	bt, ht := startBoth(t, bpftrace, mode, pid)

	// bpftrace says it is tracing before its probes are live: warm up until
	// both report a request.
	warm := false
	for i := 0; i < warmupMax && !warm; i++ {
		send(t, "GET", srv.url(i, fmt.Sprintf("/warmup/%d", i)))
		time.Sleep(100 * time.Millisecond)
		b := fromBpftrace(t, bt.Stdout(), "/warmup/")
		h, _ := fromHttptrace(t, ht, "/warmup/")
		warm = len(b.requests) > 0 && len(h.requests) > 0
	}
	if !warm {
		t.Fatalf("after %d warm-up requests the tools still did not both report one\nbpftrace:\n%s",
			warmupMax, strings.Join(bt.Stdout(), "\n"))
	}
	// Responses to warm-up requests may still be on their way: let them
	// land, then count the program's lines from here on.
	time.Sleep(time.Second)
	from := len(bt.Stdout())

	// The processes that answer: the server, or its workers.
	answering := map[int]bool{pid: true}
	if s.workers {
		answering = map[int]bool{}
		for _, w := range harness.Children(pid) {
			answering[w] = true
		}
	}

	// The requests, each with its own path and method, and the status it
	// asks for; keyed with PID 0, as any answering process may take one.
	sent := map[exchange]int{}
	tag := strconv.FormatInt(time.Now().UnixNano()%1e6, 36)
	requests := s.requests
	for i := 0; i < requests; i++ {
		method, want := s.methods[i%len(s.methods)], s.statuses[i%len(s.statuses)]
		path := s.requestPath("diff", tag, i, want)
		if got := send(t, method, srv.url(i, path)); got != want {
			t.Fatalf("%s %s: status %d, want %d", method, path, got, want)
		}
		sent[exchange{Method: method, Path: path}] = want
	}

	// Let both report them all (bounded), then stop both.
	deadline := time.Now().Add(settle)
	for time.Now().Before(deadline) {
		b := fromBpftrace(t, bt.Stdout()[from:], "/diff/")
		h, _ := fromHttptrace(t, ht, "/diff/")
		if len(b.requests) >= requests && len(h.requests) >= requests && len(h.responses) > 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	summary := stopBoth(t, bt, ht)
	defer func() {
		if t.Failed() {
			t.Logf("httptrace's summary: %s", summary.Line)
		}
	}()

	gotBT := fromBpftrace(t, bt.Stdout()[from:], "/diff/")
	gotHT, statusHT := fromHttptrace(t, ht, "/diff/")
	t.Logf("%s server: bpftrace %d requests %v responses, httptrace %d requests %v responses, sent %d",
		s.name, len(gotBT.requests), gotBT.responses, len(gotHT.requests), gotHT.responses, len(sent))
	if len(gotBT.requests) == 0 || len(gotHT.requests) == 0 {
		t.Fatalf("a tracer reported nothing\nbpftrace:\n%s", strings.Join(bt.Stdout(), "\n"))
	}
	// bpftrace's kretprobes get the kernel's default number of instances
	// (the CPU count on kernels without CONFIG_PREEMPTION, such as 5.10):
	// threads blocked in read or write, the tools' own output included,
	// use them up and the returns of other calls go unseen. httptrace
	// makes its kretprobes with room for 4096 calls in flight, so in
	// kprobe mode bpftrace may report less than httptrace, never more or
	// other. httptrace is held to every exchange in both modes, unless the
	// kernel missed probe hits and httptrace's summary says how many: then
	// it may report less than bpftrace, never more or other.
	bpftraceMayMiss := mode == "kprobe"
	missed := summary.KprobeMissed + summary.RunsSkipped
	httptraceMayMiss := missed > 0
	if a, b := sorted(gotBT.requests), sorted(gotHT.requests); a != b &&
		!(bpftraceMayMiss && subset(gotBT.requests, gotHT.requests)) &&
		!(httptraceMayMiss && subset(gotHT.requests, gotBT.requests)) {
		t.Errorf("bpftrace and httptrace disagree on requests\nbpftrace:\n%s\nhttptrace:\n%s", a, b)
	}
	if a, b := fmt.Sprint(gotBT.responses), fmt.Sprint(gotHT.responses); a != b &&
		!(bpftraceMayMiss && atMost(gotBT.responses, gotHT.responses)) &&
		!(httptraceMayMiss && atMost(gotHT.responses, gotBT.responses)) {
		t.Errorf("bpftrace and httptrace disagree on responses (pid status: count)\nbpftrace:  %s\nhttptrace: %s", a, b)
	}
	pidBT, pidHT := answeredBy(gotBT.requests), answeredBy(gotHT.requests)
	agreed := 0
	for e, want := range sent {
		bp, inBT := pidBT[e]
		hp, inHT := pidHT[e]
		if !inHT && httptraceMayMiss {
			t.Logf("%s: httptrace did not report it; the kernel missed %d probe hits, as httptrace's summary says", e, missed)
			continue
		}
		if !inHT || (!inBT && !bpftraceMayMiss) {
			t.Errorf("%s: bpftrace reported it %v, httptrace %v", e, inBT, inHT)
			continue
		}
		if !answering[hp] || (inBT && !answering[bp]) {
			t.Errorf("%s: reported for PID %d (bpftrace) and %d (httptrace), not one of the answering processes %v",
				e, bp, hp, answering)
			continue
		}
		if !inBT {
			t.Logf("%s: bpftrace missed it (kprobe mode), httptrace reported it", e)
		}
		if got := statusHT[exchange{PID: hp, Method: e.Method, Path: e.Path}]; got != want && httptraceMayMiss {
			// The kernel skipped a probe and httptrace said so: the
			// request is logged without its response, not guessed.
			t.Logf("%s: httptrace logged status %d, the server sent %d; the kernel missed %d probe hits, as httptrace's summary says",
				e, got, want, missed)
			continue
		} else if got != want {
			t.Errorf("%s: httptrace logged status %d, the server sent %d; its records of it:\n%s",
				e, got, want, strings.Join(linesWith(ht.Stdout(), `"path":"`+e.Path+`"`), "\n"))
			continue
		}
		agreed++
	}
	return agreed, len(sent)
}

// answeredBy maps each reported request, keyed without its PID, to the
// PID it was reported for.
func answeredBy(reqs map[exchange]bool) map[exchange]int {
	m := make(map[exchange]int, len(reqs))
	for e := range reqs {
		m[exchange{Method: e.Method, Path: e.Path}] = e.PID
	}
	return m
}
