package harness

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Bin is the httptrace binary under test: $HTTPTRACE_BIN, else bin/httptrace
// at the top of the repository.
func Bin(t testing.TB) string {
	t.Helper()
	if b := os.Getenv("HTTPTRACE_BIN"); b != "" {
		return b
	}
	wd, _ := os.Getwd()
	for dir := wd; dir != "/"; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "bin", "httptrace")
		}
	}
	t.Fatal("cannot find bin/httptrace: set HTTPTRACE_BIN")
	return ""
}

// Mode is the attach mode to test: $HTTPTRACE_ATTACH, else tracepoint (what
// the development machines can run).
func Mode() string {
	if m := os.Getenv("HTTPTRACE_ATTACH"); m != "" {
		return m
	}
	return "tracepoint"
}

// RequireRoot fails the test when not root: these tests load BPF programs.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("end-to-end tests load BPF programs and must run as root")
	}
}

// Tracer is a running httptrace with JSON output.
type Tracer struct {
	*Proc
	Mode string // the attach mode it reported
}

// Record is one logged request (JSON output).
type Record struct {
	PID       int               `json:"pid"`
	TID       int               `json:"tid"`
	FD        int               `json:"fd"`
	Comm      string            `json:"comm"`
	Method    string            `json:"method"`
	Path      string            `json:"path"`
	Proto     string            `json:"proto"`
	Host      string            `json:"host"`
	Headers   map[string]string `json:"headers"`
	Bytes     int               `json:"bytes"`
	Captured  int               `json:"captured"`
	Truncated bool              `json:"truncated"`
}

// StartTracer runs httptrace for the PIDs and waits until its probes are attached.
func StartTracer(t testing.TB, mode string, pids []int, extra ...string) *Tracer {
	t.Helper()
	args := []string{"--attach", mode, "--log-format", "json"}
	for _, pid := range pids {
		args = append(args, "--pid", fmt.Sprint(pid))
	}
	p := Start(t, exec.Command(Bin(t), append(args, extra...)...))
	line := p.WaitLine(t, true, func(l string) bool { return strings.Contains(l, `"msg":"probes attached"`) }, 60*time.Second)
	var m struct {
		Mode string `json:"mode"`
	}
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("parsing %q: %v", line, err)
	}
	return &Tracer{Proc: p, Mode: m.Mode}
}

// Records parses the requests logged so far.
func (tr *Tracer) Records(t testing.TB) []Record {
	t.Helper()
	var out []Record
	for _, l := range tr.Stdout() {
		var r Record
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("stdout line is not a JSON request: %q: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}

// WaitRecords waits until at least n requests are logged, or the timeout.
func (tr *Tracer) WaitRecords(t testing.TB, n int, timeout time.Duration) []Record {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		recs := tr.Records(t)
		if len(recs) >= n || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Summary is the closing summary httptrace logs on stderr.
type Summary struct {
	Requests      int `json:"requests"`
	LostEvents    int `json:"lost_events"`
	EventsDropped int `json:"events_dropped"`
	ReturnsMissed int `json:"returns_missed"`
	DecodeErrors  int `json:"decode_errors"`
	// KprobeMissed is the kernel's kprobe miss count; nil where the
	// kernel does not give one (before 6.7, or tracepoint mode).
	KprobeMissed *int `json:"kprobe_missed"`
}

// Missed is every probe hit the summary says was missed.
func (s Summary) Missed() int {
	n := s.ReturnsMissed
	if s.KprobeMissed != nil {
		n += *s.KprobeMissed
	}
	return n
}

// KernelMissed is the kernel's figure as text, "n/a" where it gave none.
func (s Summary) KernelMissed() string {
	if s.KprobeMissed == nil {
		return "n/a"
	}
	return fmt.Sprint(*s.KprobeMissed)
}

// StopAndSummary stops httptrace with SIGINT, checks it exits 0, and returns its summary.
func (tr *Tracer) StopAndSummary(t testing.TB) Summary {
	t.Helper()
	if err := tr.Stop(t, 30*time.Second); err != nil {
		t.Fatalf("httptrace exited with %v\nstderr:\n%s", err, strings.Join(tr.Stderr(), "\n"))
	}
	line := tr.WaitLine(t, true, func(l string) bool { return strings.Contains(l, `"msg":"summary: `) }, time.Second)
	var s Summary
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		t.Fatalf("parsing summary %q: %v", line, err)
	}
	return s
}
