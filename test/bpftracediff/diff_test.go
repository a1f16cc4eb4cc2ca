// Package bpftracediff checks that the generated bpftrace program and
// httptrace see the same requests: both trace one real Go server in the
// attach mode named by $HTTPTRACE_ATTACH (tracepoint unless set; the kernel
// matrix runs both), side by side, while requests are sent to it.
package bpftracediff

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/preflight"
	"github.com/httptrace/httptrace/test/harness"
)

func TestMain(m *testing.M) { harness.Main(m) }

const (
	requests  = 12
	warmupMax = 50 // warm-up requests before giving up on the tools attaching
	waitLimit = 60 * time.Second
	settle    = 10 * time.Second
)

// request is what both tools must agree on.
type request struct {
	PID    int
	Method string
	Path   string
}

func (r request) String() string { return fmt.Sprintf("%d %s %s", r.PID, r.Method, r.Path) }

// reqLine matches the bpftrace program's output: REQ pid=P fd=F bytes=B METHOD PATH ...
var reqLine = regexp.MustCompile(`^REQ pid=(\d+) fd=(-?\d+) bytes=(\d+) (\S+) (\S+)`)

// fromBpftrace collects the requests bpftrace printed whose path has the prefix.
func fromBpftrace(t *testing.T, lines []string, prefix string) map[request]bool {
	out := map[request]bool{}
	for _, l := range lines {
		m := reqLine.FindStringSubmatch(l)
		if m == nil {
			if strings.HasPrefix(l, "REQ ") {
				t.Errorf("bpftrace line not understood: %q", l)
			}
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if strings.HasPrefix(m[5], prefix) {
			out[request{PID: pid, Method: m[4], Path: m[5]}] = true
		}
	}
	return out
}

// fromHttptrace collects the requests httptrace logged whose path has the prefix.
func fromHttptrace(t *testing.T, tr *harness.Tracer, prefix string) map[request]bool {
	out := map[request]bool{}
	for _, r := range tr.Records(t) {
		if strings.HasPrefix(r.Path, prefix) {
			out[request{PID: r.PID, Method: r.Method, Path: r.Path}] = true
		}
	}
	return out
}

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

// seenByBoth counts the sent requests that both tools reported.
func seenByBoth(sent, a, b map[request]bool) int {
	n := 0
	for r := range sent {
		if a[r] && b[r] {
			n++
		}
	}
	return n
}

func sorted(s map[request]bool) string {
	var out []string
	for r := range s {
		out = append(out, r.String())
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
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

func TestSameRequests(t *testing.T) {
	bpftrace := needBpftrace(t)
	srv := harness.StartGoServer(t)
	pid := srv.PID()

	// The bpftrace program for this PID in the mode under test.
	mode := harness.Mode()
	script, err := exec.Command(harness.Bin(t), "bpftrace", "--pid", strconv.Itoa(pid), "--attach", mode).Output()
	if err != nil {
		t.Fatalf("httptrace bpftrace: %v", err)
	}
	scriptPath := filepath.Join(t.TempDir(), "httptrace.bt")
	if err := os.WriteFile(scriptPath, script, 0o644); err != nil {
		t.Fatal(err)
	}

	// Both tracers, side by side.
	bt := harness.Start(t, bpftraceCmd(bpftrace, scriptPath))
	bt.WaitLine(t, false, func(l string) bool { return strings.HasPrefix(l, "Tracing HTTP requests") }, waitLimit)
	ht := harness.StartTracer(t, mode, []int{pid})

	// bpftrace says it is tracing before its probes are live: warm up until
	// both report a request.
	warm := false
	for i := 0; i < warmupMax && !warm; i++ {
		harness.Get(t, srv.URL(fmt.Sprintf("/warmup/%d", i)), nil)
		time.Sleep(100 * time.Millisecond)
		warm = len(fromBpftrace(t, bt.Stdout(), "/warmup/")) > 0 && len(fromHttptrace(t, ht, "/warmup/")) > 0
	}
	if !warm {
		t.Fatalf("after %d warm-up requests the tools still did not both report one\nbpftrace:\n%s",
			warmupMax, strings.Join(bt.Stdout(), "\n"))
	}

	// The requests, each with its own path, method and header.
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}
	sent := map[request]bool{}
	tag := strconv.FormatInt(time.Now().UnixNano()%1e6, 36)
	for i := 0; i < requests; i++ {
		m := methods[i%len(methods)]
		path := fmt.Sprintf("/diff/%s/%d", tag, i)
		harness.Request(t, m, srv.URL(path), map[string]string{"X-Diff-Seq": strconv.Itoa(i)})
		sent[request{PID: pid, Method: m, Path: path}] = true
	}

	// Let both report them all (bounded), then stop both.
	deadline := time.Now().Add(settle)
	for time.Now().Before(deadline) &&
		(len(fromBpftrace(t, bt.Stdout(), "/diff/")) < requests || len(fromHttptrace(t, ht, "/diff/")) < requests) {
		time.Sleep(100 * time.Millisecond)
	}
	if err := bt.Stop(t, waitLimit); err != nil {
		t.Errorf("bpftrace exited with %v\n%s", err, strings.Join(bt.Stderr(), "\n"))
	}
	ht.StopAndSummary(t)

	gotBT := fromBpftrace(t, bt.Stdout(), "/diff/")
	gotHT := fromHttptrace(t, ht, "/diff/")
	t.Logf("bpftrace: %d requests, httptrace: %d requests, sent: %d", len(gotBT), len(gotHT), len(sent))
	// The kernel matrix reads this line: requests=<seen by both>/<sent>.
	fmt.Printf("e2e-result: suite=bpftrace-diff mode=%s requests=%d/%d bpftrace=%d httptrace=%d\n",
		mode, seenByBoth(sent, gotBT, gotHT), len(sent), len(gotBT), len(gotHT))
	if len(gotBT) == 0 || len(gotHT) == 0 {
		t.Fatalf("a tracer reported nothing\nbpftrace:\n%s", strings.Join(bt.Stdout(), "\n"))
	}
	if a, b := sorted(gotBT), sorted(gotHT); a != b {
		t.Errorf("bpftrace and httptrace disagree\nbpftrace:\n%s\nhttptrace:\n%s", a, b)
	}
	if a, b := sorted(gotHT), sorted(sent); a != b {
		t.Errorf("httptrace did not report what was sent\nhttptrace:\n%s\nsent:\n%s", a, b)
	}
}
