package syscalls_test

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
	"github.com/httptrace/httptrace/test/servers/syscalls"
)

func TestMain(m *testing.M) { harness.Main(m) }

// exercise sends one request per (read, write) pair, on one connection per
// read path, and checks each answer names the pair and has its body.
func exercise(t *testing.T, addrs map[string]string) (serverPID int) {
	t.Helper()
	for _, rx := range syscalls.AllReads() {
		c := harness.DialRaw(t, addrs[rx])
		for _, tx := range syscalls.AllWrites() {
			path := fmt.Sprintf("/tx/%s/x", tx)
			c.Send(t, harness.RequestText("GET", path, rx+"-"+tx))
			got := c.Read(t, "GET")
			if got.Status != 200 || got.Header.Get("X-Rx") != rx || got.Header.Get("X-Tx") != tx ||
				!strings.HasPrefix(got.Body, fmt.Sprintf("rx=%s tx=%s path=%s\n", rx, tx, path)) {
				t.Errorf("%s on the %s port: status %d, rx=%s tx=%s, body %.60q", path, rx, got.Status,
					got.Header.Get("X-Rx"), got.Header.Get("X-Tx"), got.Body)
			}
			serverPID = got.ServerPID
		}
		c.Close()
	}
	// Anything but /tx/<write>/ is a 404.
	c := harness.DialRaw(t, addrs["read"])
	c.Send(t, harness.RequestText("GET", "/tx/nothing/x", "404"))
	if got := c.Read(t, "GET"); got.Status != 404 {
		t.Errorf("/tx/nothing/x: status %d, want 404", got.Status)
	}
	return serverPID
}

// TestServe runs the server in this process and checks every pair answers.
func TestServe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go syscalls.Serve(w)
	buf := make([]byte, 512)
	n, err := r.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	exercise(t, addrsOf(t, string(buf[:n])))
}

// addrsOf parses "listening read=ADDR readv=ADDR ...".
func addrsOf(t *testing.T, line string) map[string]string {
	t.Helper()
	addrs := map[string]string{}
	for _, f := range strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "listening ")) {
		if k, v, ok := strings.Cut(f, "="); ok {
			addrs[k] = v
		}
	}
	if len(addrs) != len(syscalls.AllReads()) {
		t.Fatalf("listening line %q names %d ports, want %d", line, len(addrs), len(syscalls.AllReads()))
	}
	return addrs
}

// TestSyscallsUnderStrace runs the server under strace and checks each read
// path carried a request and each write path a response.
func TestSyscallsUnderStrace(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir() + "/strace.out"
	names := append(append([]string(nil), syscalls.Reads...), syscalls.Writes...)
	names = append(names, "splice")
	cmd := exec.Command(strace, "-f", "-qq", "-s", "512", "-o", out, "-e", "trace="+strings.Join(names, ","), self)
	cmd.Env = append(os.Environ(), harness.ServeEnv+"=syscalls")
	p := harness.Start(t, cmd)
	line := p.WaitLine(t, false, func(l string) bool { return strings.HasPrefix(l, "listening ") }, 30*time.Second)
	pid := exercise(t, addrsOf(t, line))
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("stopping the server: %v", err)
	}
	p.Stop(t, 10*time.Second)
	trace, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, rx := range syscalls.Reads {
		// A blocking read shows its data where it resumes.
		re := regexp.MustCompile(`(\b` + rx + `\(|<\.\.\. ` + rx + ` resumed>).*GET /tx/`)
		if !re.Match(trace) {
			t.Errorf("no request read with %s in the strace output", rx)
		}
	}
	for _, tx := range syscalls.Writes {
		re := regexp.MustCompile(`\b` + tx + `\(.*X-Tx: ` + tx + `\\r\\n`)
		if tx == "sendfile" {
			re = regexp.MustCompile(`\bsendfile\(\d+, \d+, \[0\]`)
		}
		if !re.Match(trace) {
			t.Errorf("no response written with %s in the strace output", tx)
		}
	}
	// The paths the server adds: a peek before the read, a body spliced.
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`\brecvfrom\(.*"GET /tx/.*MSG_PEEK`),
		regexp.MustCompile(`\bsplice\(\d+, NULL, \d+, NULL, \d+`),
	} {
		if !re.Match(trace) {
			t.Errorf("nothing in the strace output matches %s", re)
		}
	}
	if t.Failed() {
		t.Logf("strace output:\n%s", trace)
	}
}
