// Package bpftracediff checks that the generated bpftrace program and
// httptrace see the same requests: both trace one real Go server in
// tracepoint mode while curl sends it requests.
//
// It needs root, bpftrace and curl. Without root it is skipped; as root a
// missing tool is a failure, never a pass.
package bpftracediff

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	requests   = 12
	warmupMax  = 50 // warm-up requests before giving up on the tools attaching
	waitLimit  = 60 * time.Second
	settleTime = 10 * time.Second
)

// request is what both tools must agree on.
type request struct {
	PID    int
	Method string
	Path   string
}

func (r request) String() string { return fmt.Sprintf("%d %s %s", r.PID, r.Method, r.Path) }

// lines collects a process's output lines and lets a test wait for one.
type lines struct {
	mu   sync.Mutex
	all  []string
	cond *sync.Cond
	done bool
}

func newLines(r io.Reader) *lines {
	l := &lines{}
	l.cond = sync.NewCond(&l.mu)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			l.mu.Lock()
			l.all = append(l.all, sc.Text())
			l.cond.Broadcast()
			l.mu.Unlock()
		}
		l.mu.Lock()
		l.done = true
		l.cond.Broadcast()
		l.mu.Unlock()
	}()
	return l
}

func (l *lines) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.all...)
}

// wait blocks until a line satisfies ok, the stream ends, or the limit passes.
func (l *lines) wait(limit time.Duration, ok func(string) bool) (string, bool) {
	timer := time.AfterFunc(limit, func() {
		l.mu.Lock()
		l.cond.Broadcast()
		l.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(limit)
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := 0; ; {
		for ; i < len(l.all); i++ {
			if ok(l.all[i]) {
				return l.all[i], true
			}
		}
		if l.done || time.Now().After(deadline) {
			return "", false
		}
		l.cond.Wait()
	}
}

// waitDone waits for the stream to end (the process closed it) and says
// whether it did within the limit.
func (l *lines) waitDone(limit time.Duration) bool {
	l.wait(limit, func(string) bool { return false })
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done
}

func httptraceBin(t *testing.T) string {
	bin := os.Getenv("HTTPTRACE_BIN")
	if bin == "" {
		bin = "../../bin/httptrace"
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(abs); err != nil {
		t.Fatalf("httptrace binary: %v (run make build, or set HTTPTRACE_BIN)", err)
	}
	return abs
}

func need(t *testing.T, name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is required for this test: %v", name, err)
	}
	return p
}

// buildServer builds test/servers/goserver into dir.
func buildServer(t *testing.T, dir string) string {
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = need(t, "go")
	}
	out := filepath.Join(dir, "goserver")
	cmd := exec.Command(goBin, "build", "-o", out, "../servers/goserver")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the server: %v\n%s", err, b)
	}
	return out
}

// start runs a command whose stdout and stderr are collected, and stops it
// with SIGINT (then SIGKILL) when the test ends if it is still running.
func start(t *testing.T, name string, args ...string) (*exec.Cmd, *lines, *lines) {
	t.Helper()
	cmd := exec.Command(name, args...)
	outR, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	out, errs := newLines(outR), newLines(errR)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			stop(t, cmd, out)
		}
	})
	return cmd, out, errs
}

// stop interrupts a process and waits for it, killing it if it lingers.
func stop(t *testing.T, cmd *exec.Cmd, out *lines) {
	_ = cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() {
		out.waitDone(waitLimit)
		done <- cmd.Wait()
	}()
	select {
	case <-done:
	case <-time.After(waitLimit):
		t.Errorf("%s did not stop on SIGINT; killing it", cmd.Path)
		_ = cmd.Process.Kill()
		<-done
	}
}

func curl(t *testing.T, curlBin, method, url string, seq int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	args := []string{"-sS", "--http1.1", "--max-time", "5", "-o", "/dev/null",
		"-H", fmt.Sprintf("X-Diff-Seq: %d", seq)}
	switch method {
	case "HEAD":
		args = append(args, "-I")
	case "GET":
	default:
		args = append(args, "-X", method)
		if method == "POST" || method == "PUT" || method == "PATCH" {
			args = append(args, "--data", fmt.Sprintf("body-%d", seq))
		}
	}
	args = append(args, url)
	if out, err := exec.CommandContext(ctx, curlBin, args...).CombinedOutput(); err != nil {
		t.Fatalf("curl %s %s: %v\n%s", method, url, err, out)
	}
}

// reqLine matches the bpftrace program's output: REQ pid=P fd=F bytes=B METHOD PATH ...
var reqLine = regexp.MustCompile(`^REQ pid=(\d+) fd=(-?\d+) bytes=(\d+) (\S+) (\S+)`)

func parseBpftrace(t *testing.T, ls []string) []request {
	var out []request
	for _, l := range ls {
		m := reqLine.FindStringSubmatch(l)
		if m == nil {
			if strings.HasPrefix(l, "REQ ") {
				t.Errorf("bpftrace line not understood: %q", l)
			}
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		out = append(out, request{PID: pid, Method: m[4], Path: m[5]})
	}
	return out
}

func parseHttptrace(t *testing.T, ls []string) []request {
	var out []request
	for _, l := range ls {
		var rec struct {
			PID    int    `json:"pid"`
			Method string `json:"method"`
			Path   string `json:"path"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Errorf("httptrace stdout line is not JSON: %q: %v", l, err)
			continue
		}
		if rec.Method == "" {
			t.Errorf("httptrace line without a method: %q", l)
			continue
		}
		out = append(out, request{PID: rec.PID, Method: rec.Method, Path: rec.Path})
	}
	return out
}

func set(rs []request, keep func(request) bool) map[request]bool {
	s := map[request]bool{}
	for _, r := range rs {
		if keep(r) {
			s[r] = true
		}
	}
	return s
}

func sorted(s map[request]bool) []string {
	var out []string
	for r := range s {
		out = append(out, r.String())
	}
	sort.Strings(out)
	return out
}

func TestSameRequests(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: it loads BPF programs with bpftrace and httptrace")
	}
	htBin := httptraceBin(t)
	btBin := need(t, "bpftrace")
	curlBin := need(t, "curl")
	dir := t.TempDir()

	// The server.
	srv, srvOut, _ := start(t, buildServer(t, dir), "127.0.0.1:0")
	line, ok := srvOut.wait(waitLimit, func(l string) bool { return strings.HasPrefix(l, "listening ") })
	if !ok {
		t.Fatal("the server did not print its address")
	}
	addr := strings.TrimPrefix(line, "listening ")
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("server address %q is not on 127.0.0.1", addr)
	}
	pid := srv.Process.Pid
	base := "http://" + addr
	pidArg := strconv.Itoa(pid)

	// The bpftrace program for this PID in tracepoint mode.
	gen := exec.Command(htBin, "bpftrace", "--pid", pidArg, "--attach", "tracepoint")
	var genErr bytes.Buffer
	gen.Stderr = &genErr
	script, err := gen.Output()
	if err != nil {
		t.Fatalf("httptrace bpftrace: %v\n%s", err, genErr.String())
	}
	scriptPath := filepath.Join(dir, "httptrace.bt")
	if err := os.WriteFile(scriptPath, script, 0o644); err != nil {
		t.Fatal(err)
	}

	// Both tracers, side by side.
	bt, btOut, btErr := start(t, btBin, scriptPath)
	ht, htOut, htErr := start(t, htBin, "--pid", pidArg, "--attach", "tracepoint", "--log-format", "json")
	if _, ok := btOut.wait(waitLimit, func(l string) bool { return strings.HasPrefix(l, "Tracing HTTP requests") }); !ok {
		t.Fatalf("bpftrace did not start:\nstdout:\n%s\nstderr:\n%s",
			strings.Join(btOut.snapshot(), "\n"), strings.Join(btErr.snapshot(), "\n"))
	}
	if _, ok := htErr.wait(waitLimit, func(l string) bool { return strings.Contains(l, `"msg":"probes attached"`) }); !ok {
		t.Fatalf("httptrace did not attach:\n%s", strings.Join(htErr.snapshot(), "\n"))
	}

	// Warm up until both report a request: then both are surely attached.
	isWarmup := func(r request) bool { return strings.HasPrefix(r.Path, "/warmup/") }
	warm := false
	for i := 0; i < warmupMax && !warm; i++ {
		curl(t, curlBin, "GET", fmt.Sprintf("%s/warmup/%d", base, i), -1)
		time.Sleep(100 * time.Millisecond)
		warm = len(set(parseBpftrace(t, btOut.snapshot()), isWarmup)) > 0 &&
			len(set(parseHttptrace(t, htOut.snapshot()), isWarmup)) > 0
	}
	if !warm {
		t.Fatalf("after %d warm-up requests the tools still did not both report one\nbpftrace:\n%s\nhttptrace:\n%s",
			warmupMax, strings.Join(btOut.snapshot(), "\n"), strings.Join(htOut.snapshot(), "\n"))
	}

	// The requests, each with its own path and header.
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"}
	sent := map[request]bool{}
	tag := strconv.FormatInt(time.Now().UnixNano()%1e6, 36)
	for i := 0; i < requests; i++ {
		m := methods[i%len(methods)]
		path := fmt.Sprintf("/diff/%s/%d", tag, i)
		curl(t, curlBin, m, base+path, i)
		sent[request{PID: pid, Method: m, Path: path}] = true
	}

	// Let both report them all (bounded), then stop both.
	isDiff := func(r request) bool { return strings.HasPrefix(r.Path, "/diff/") }
	deadline := time.Now().Add(settleTime)
	for time.Now().Before(deadline) {
		if len(set(parseBpftrace(t, btOut.snapshot()), isDiff)) >= requests &&
			len(set(parseHttptrace(t, htOut.snapshot()), isDiff)) >= requests {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop(t, bt, btOut)
	stop(t, ht, htOut)
	btErr.waitDone(waitLimit)

	gotBT := set(parseBpftrace(t, btOut.snapshot()), isDiff)
	gotHT := set(parseHttptrace(t, htOut.snapshot()), isDiff)
	t.Logf("bpftrace: %d requests, httptrace: %d requests, sent: %d", len(gotBT), len(gotHT), len(sent))
	if len(gotBT) == 0 || len(gotHT) == 0 {
		t.Fatalf("a tracer reported nothing\nbpftrace:\n%s\nhttptrace:\n%s",
			strings.Join(btOut.snapshot(), "\n"), strings.Join(htOut.snapshot(), "\n"))
	}
	if a, b := strings.Join(sorted(gotBT), "\n"), strings.Join(sorted(gotHT), "\n"); a != b {
		t.Errorf("bpftrace and httptrace disagree\nbpftrace:\n%s\nhttptrace:\n%s", a, b)
	}
	if a, b := strings.Join(sorted(gotBT), "\n"), strings.Join(sorted(sent), "\n"); a != b {
		t.Errorf("bpftrace did not report what was sent\nbpftrace:\n%s\nsent:\n%s", a, b)
	}
	if a, b := strings.Join(sorted(gotHT), "\n"), strings.Join(sorted(sent), "\n"); a != b {
		t.Errorf("httptrace did not report what was sent\nhttptrace:\n%s\nsent:\n%s", a, b)
	}
	for _, l := range btOut.snapshot() {
		if strings.HasPrefix(l, "returns missed:") {
			t.Logf("bpftrace: %s", l)
		}
	}
}
