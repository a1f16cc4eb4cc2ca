// Package cli runs the built httptrace binary against bad input and real
// processes: exit statuses, messages, lifecycle and what it leaves loaded.
package cli

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// tool is a running httptrace (or a wrapper that execs it) whose stderr
// lines are collected as they come.
type tool struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer

	mu     sync.Mutex
	stderr []string
	done   chan struct{}
	code   int       // exit status; 128+N when killed by signal N
	exitAt time.Time // when it exited
}

// startTool starts cmd and kills it when the test ends.
func startTool(t *testing.T, cmd *exec.Cmd) *tool {
	t.Helper()
	tl := &tool{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = &tl.stdout
	errR, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	go tl.collect(errR)
	t.Cleanup(func() {
		select {
		case <-tl.done:
		default:
			cmd.Process.Kill()
			<-tl.done
		}
	})
	return tl
}

func (tl *tool) collect(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		tl.mu.Lock()
		tl.stderr = append(tl.stderr, sc.Text())
		tl.mu.Unlock()
	}
	err := tl.cmd.Wait()
	tl.exitAt = time.Now()
	tl.code = exitCode(err)
	close(tl.done)
}

// exitCode is the shell's view of how a process ended.
func exitCode(err error) int {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		if err != nil {
			return -1
		}
		return 0
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}

// Stderr returns the diagnostics so far.
func (tl *tool) Stderr() []string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return append([]string(nil), tl.stderr...)
}

// waitStderr waits for a diagnostic line holding want.
func (tl *tool) waitStderr(t *testing.T, want string, timeout time.Duration) string {
	t.Helper()
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, l := range tl.Stderr() {
			if strings.Contains(l, want) {
				return l
			}
		}
		select {
		case <-tl.done:
			t.Fatalf("httptrace exited (%d) before logging %q:\n%s", tl.code, want, strings.Join(tl.Stderr(), "\n"))
		default:
		}
	}
	t.Fatalf("httptrace did not log %q within %s:\n%s", want, timeout, strings.Join(tl.Stderr(), "\n"))
	return ""
}

// waitExit waits for the process to exit and returns its status.
func (tl *tool) waitExit(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-tl.done:
		return tl.code
	case <-time.After(timeout):
		t.Fatalf("httptrace still running after %s:\n%s", timeout, strings.Join(tl.Stderr(), "\n"))
		return -1
	}
}

// exited reports whether the process has exited.
func (tl *tool) exited() bool {
	select {
	case <-tl.done:
		return true
	default:
		return false
	}
}

// attached starts httptrace with JSON diagnostics and waits until every
// probe is live.
func attached(t *testing.T, args ...string) *tool {
	t.Helper()
	harness.RequireRoot(t)
	args = append([]string{"--attach", harness.Mode(), "--log-format", "json"}, args...)
	tl := startTool(t, exec.Command(harness.Bin(t), args...))
	tl.waitStderr(t, `"msg":"probes attached"`, 60*time.Second)
	return tl
}
