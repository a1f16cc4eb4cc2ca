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

// Record is one logged exchange (JSON output, see the output contract).
type Record struct {
	Time            string            `json:"time"`
	PID             int               `json:"pid"`
	TID             int               `json:"tid"`
	Comm            string            `json:"comm"`
	FD              int               `json:"fd"`
	Conn            uint64            `json:"conn"`
	Side            string            `json:"side"`
	Client          string            `json:"client"`
	Server          string            `json:"server"`
	Method          string            `json:"method"`
	Path            string            `json:"path"`
	Proto           string            `json:"proto"`
	Headers         map[string]string `json:"headers"`
	Status          int               `json:"status"`
	ResponseHeaders map[string]string `json:"response_headers"`
	RequestBytes    int64             `json:"request_bytes"`
	ResponseBytes   int64             `json:"response_bytes"`
	LatencyMs       float64           `json:"latency_ms"`
	Truncated       bool              `json:"truncated"`
	Gap             bool              `json:"gap"`
	Adopted         bool              `json:"adopted"`
	Incomplete      bool              `json:"incomplete"`
	Unmatched       bool              `json:"unmatched"`
	TLS             bool              `json:"tls"`
	ContainerID     string            `json:"container_id"`
	ContainerName   string            `json:"container_name"`
	ContainerPID    int               `json:"container_pid"`
	PodUID          string            `json:"k8s_pod_uid"`
	K8sNamespace    string            `json:"k8s_namespace"`
	K8sPod          string            `json:"k8s_pod"`
	K8sContainer    string            `json:"k8s_container"`
	Stream          uint32            `json:"stream"`
	Authority       string            `json:"authority"`
	Trailers        map[string]string `json:"trailers"`
	GRPCService     string            `json:"grpc_service"`
	GRPCMethod      string            `json:"grpc_method"`
	GRPCStatus      *int              `json:"grpc_status"`
	GRPCMessage     string            `json:"grpc_message"`
	GRPCReqMsgs     *int              `json:"grpc_request_messages"`
	GRPCRespMsgs    *int              `json:"grpc_response_messages"`
	Unresolved      int               `json:"unresolved"`
	Reset           *int              `json:"reset"`

	// Start is Time parsed: when the request's first byte moved.
	Start time.Time `json:"-"`
	// Line is the JSON line as printed.
	Line string `json:"-"`
}

// Header is a request header by name, in any case.
func (r Record) Header(name string) string {
	for k, v := range r.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// requiredKeys are the keys every JSON record carries.
var requiredKeys = []string{"time", "pid", "tid", "comm", "fd", "conn", "side", "client", "server",
	"method", "path", "proto", "headers", "status", "response_headers", "request_bytes",
	"response_bytes", "latency_ms", "truncated", "gap", "adopted", "incomplete", "unmatched"}

// ParseRecord parses one stdout line, checking every key of the contract is there.
func ParseRecord(line string) (Record, error) {
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(line), &keys); err != nil {
		return Record{}, fmt.Errorf("not a JSON object: %w", err)
	}
	var missing []string
	for _, k := range requiredKeys {
		if _, ok := keys[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return Record{}, fmt.Errorf("missing keys %s", strings.Join(missing, ", "))
	}
	var r Record
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		return Record{}, fmt.Errorf("bad field: %w", err)
	}
	start, err := time.Parse(time.RFC3339Nano, r.Time)
	if err != nil {
		return Record{}, fmt.Errorf("time: %w", err)
	}
	r.Start, r.Line = start, line
	return r, nil
}

// StartTracer runs httptrace in the mode for the PIDs and waits until its
// probes are attached.
func StartTracer(t testing.TB, mode string, pids []int, extra ...string) *Tracer {
	t.Helper()
	args := []string{"--attach", mode, "--log-format", "json"}
	for _, pid := range pids {
		args = append(args, "--pid", fmt.Sprint(pid))
	}
	return StartTracerCmd(t, exec.Command(Bin(t), append(args, extra...)...))
}

// StartTracerCmd runs cmd, an httptrace with --log-format json (or a
// command that runs one, as podman run does), and waits until its probes
// are attached.
func StartTracerCmd(t testing.TB, cmd *exec.Cmd) *Tracer {
	t.Helper()
	began := time.Now()
	p := Start(t, cmd)
	// Cleanups run last first: this one runs before Start's stops the
	// process, so a failed test shows what httptrace said.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		// Stopped first, so that its summary and shutdown lines are there.
		if p.Cmd.Process.Signal(os.Interrupt) == nil {
			select {
			case <-p.done:
			case <-time.After(5 * time.Second):
			}
		}
		t.Logf("httptrace's stderr (last %d lines):\n%s", stderrShown, strings.Join(lastLines(p.Stderr(), stderrShown), "\n"))
	})
	line := p.WaitLine(t, true, func(l string) bool { return strings.Contains(l, `"msg":"probes attached"`) }, 60*time.Second)
	t.Logf("httptrace's probes attached %v after its start", time.Since(began).Round(time.Millisecond))
	var m struct {
		Mode   string `json:"mode"`
		Attach string `json:"attach"`
	}
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("parsing %q: %v", line, err)
	}
	if m.Mode == "" {
		m.Mode = m.Attach
	}
	return &Tracer{Proc: p, Mode: m.Mode}
}

// stderrShown is how many of httptrace's last stderr lines a failed test
// shows.
const stderrShown = 40

func lastLines(lines []string, n int) []string {
	if len(lines) > n {
		return lines[len(lines)-n:]
	}
	return lines
}

// Records parses the exchanges logged so far; a line that breaks the
// contract fails the test.
func (tr *Tracer) Records(t testing.TB) []Record {
	t.Helper()
	var out []Record
	for _, l := range tr.Stdout() {
		r, err := ParseRecord(l)
		if err != nil {
			t.Fatalf("stdout line breaks the output contract: %v\n%s", err, l)
		}
		out = append(out, r)
	}
	return out
}

// WaitFor polls the records until done says they are all there, or the
// timeout passes, and returns the last records read.
func (tr *Tracer) WaitFor(t testing.TB, timeout time.Duration, done func([]Record) bool) []Record {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		recs := tr.Records(t)
		if done(recs) || time.Now().After(deadline) {
			return recs
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// WaitRecords waits until at least n exchanges are logged, or the timeout.
func (tr *Tracer) WaitRecords(t testing.TB, n int, timeout time.Duration) []Record {
	t.Helper()
	return tr.WaitFor(t, timeout, func(r []Record) bool { return len(r) >= n })
}

// Summary is the closing summary httptrace logs on stderr.
type Summary struct {
	Exchanges    int `json:"exchanges"`
	Incomplete   int `json:"incomplete"`
	Unmatched    int `json:"unmatched"`
	Gaps         int `json:"gaps"`
	BytesNotSeen int `json:"bytes_not_seen"`
	// BytesUnseen are bytes moved on traced connections without a traced
	// syscall (splice, ...), counted and passed on as not captured.
	BytesUnseen  int `json:"bytes_unseen"`
	EventsLost   int `json:"events_lost"`
	DecodeErrors int `json:"decode_errors"`
	// KprobeMissed is the kernel's count of probe hits it missed (kprobe
	// mode only; absent, so 0, in tracepoint mode).
	KprobeMissed int `json:"kprobe_missed"`
	// RunsSkipped is the kernel's count of program runs it skipped
	// (counted from Linux 6.7; absent when 0).
	RunsSkipped int `json:"runs_skipped"`
	// TLS: library files probed and not, the longest time from a library
	// being mapped to its probes, the kernel's TLS counters.
	TLSLibraries         int    `json:"tls_libraries"`
	TLSUnprobed          int    `json:"tls_unprobed"`
	TLSProbeDelayMax     string `json:"tls_probe_delay_max"`
	BPFTLSMapped         int    `json:"bpf_tls_mapped"`
	BPFTLSCalls          int    `json:"bpf_tls_calls"`
	BPFTLSUnplaced       int    `json:"bpf_tls_unplaced"`
	BPFTLSWriteFailed    int    `json:"bpf_tls_write_failed"`
	BPFTLSReturnsUnsaved int    `json:"bpf_tls_returns_unsaved"`
	BPFTLSCiphertext     int    `json:"bpf_tls_ciphertext"`
	BPFTLSConns          int    `json:"bpf_tls_conns"`
	// ConnsHTTP2 are connections that opened with the HTTP/2 preface.
	ConnsHTTP2 int    `json:"conns_http2"`
	Line       string `json:"-"`
}

// summaryKeys are the fields the contract promises in the summary.
var summaryKeys = []string{"exchanges", "incomplete", "unmatched", "gaps", "bytes_not_seen", "bytes_unseen", "events_lost", "decode_errors"}

// StopAndSummary stops httptrace with SIGINT, checks it exits 0 with a
// summary holding every promised field, and returns the summary.
func (tr *Tracer) StopAndSummary(t testing.TB) Summary {
	t.Helper()
	if err := tr.Stop(t, 30*time.Second); err != nil {
		t.Fatalf("httptrace exited with %v\nstderr:\n%s", err, strings.Join(tr.Stderr(), "\n"))
	}
	line := tr.WaitLine(t, true, func(l string) bool { return strings.Contains(l, `"msg":"summary:`) }, time.Second)
	var s Summary
	if err := json.Unmarshal([]byte(line), &s); err != nil {
		t.Fatalf("parsing summary %q: %v", line, err)
	}
	var keys map[string]json.RawMessage
	json.Unmarshal([]byte(line), &keys)
	for _, k := range summaryKeys {
		if _, ok := keys[k]; !ok {
			t.Errorf("summary has no %s: %s", k, line)
		}
	}
	s.Line = line
	return s
}

// Slowdown is how much longer waits should be: 4 in the kernel matrix's
// guests (HTTPTRACE_E2E_GUEST set), which run under software emulation, else 1.
func Slowdown() time.Duration {
	if os.Getenv("HTTPTRACE_E2E_GUEST") != "" {
		return 4
	}
	return 1
}
