package harness

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Proc is a child process whose output lines are collected as they come.
type Proc struct {
	Cmd *exec.Cmd

	mu     sync.Mutex
	stdout []string
	stderr []string
	done   chan struct{}
	// abandoned is set when a killed process did not exit in time: nothing
	// waits for it any more.
	abandoned bool
	err       error
}

// Start runs a command, collecting stdout and stderr lines, and kills it
// when the test ends.
func Start(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{Cmd: cmd, done: make(chan struct{})}
	outR, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errR, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go p.collect(outR, &p.stdout, &wg)
	go p.collect(errR, &p.stderr, &wg)
	go func() {
		wg.Wait()
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			if !p.abandoned {
				<-p.done
			}
		}
	})
	return p
}

func (p *Proc) collect(r io.Reader, into *[]string, wg *sync.WaitGroup) {
	defer wg.Done()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		p.mu.Lock()
		*into = append(*into, sc.Text())
		p.mu.Unlock()
	}
}

// Stdout returns the stdout lines so far.
func (p *Proc) Stdout() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.stdout...)
}

// Stderr returns the stderr lines so far.
func (p *Proc) Stderr() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.stderr...)
}

// WaitLine waits for a line with the prefix on stdout (or on stderr with
// fromStderr) and returns it.
func (p *Proc) WaitLine(t testing.TB, fromStderr bool, match func(string) bool, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		lines := p.Stdout()
		if fromStderr {
			lines = p.Stderr()
		}
		for _, l := range lines {
			if match(l) {
				return l
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before the expected line\nstdout:\n%s\nstderr:\n%s", p.Cmd.Path, p.err,
				strings.Join(p.Stdout(), "\n"), strings.Join(p.Stderr(), "\n"))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no expected line within %s\nstdout:\n%s\nstderr:\n%s", p.Cmd.Path, timeout,
				strings.Join(p.Stdout(), "\n"), strings.Join(p.Stderr(), "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop sends SIGINT and waits for the process to exit, returning its exit error.
func (p *Proc) Stop(t testing.TB, timeout time.Duration) error {
	t.Helper()
	p.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.Cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not exit within %s of SIGINT", p.Cmd.Path, timeout)
		return nil
	}
}

// Interrupt sends SIGINT and waits up to timeout for the process to exit.
// If it has not by then, it is killed and exited is false; err is its exit
// error otherwise. For a tool whose output, not its exit, is under test.
func (p *Proc) Interrupt(timeout time.Duration) (exited bool, err error) {
	p.Cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		return true, p.err
	case <-time.After(timeout):
		// Even a killed process may take long to exit while the kernel
		// releases its probes; past a second bound it is left to finish.
		p.Cmd.Process.Kill()
		select {
		case <-p.done:
		case <-time.After(timeout):
			p.abandoned = true
		}
		return false, nil
	}
}

// PID is the process ID.
func (p *Proc) PID() int { return p.Cmd.Process.Pid }
