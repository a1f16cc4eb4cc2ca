// Child processes (start, wait for a line, stop) and what /proc says about them.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of utime and stime in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture this project builds for).
const userHZ = 100

// child is a process the benchmark started, its stdout and stderr in files.
type child struct {
	cmd     *exec.Cmd
	stdout  string
	stderr  string
	done    chan struct{}
	waitErr error
}

// startChild runs argv with stdout and stderr written to the given files,
// in a process group of its own.
func startChild(stdout, stderr string, argv ...string) (*child, error) {
	return startChildEnv(stdout, stderr, nil, argv...)
}

// startChildEnv is startChild with env added to the child's environment.
func startChildEnv(stdout, stderr string, env []string, argv ...string) (*child, error) {
	out, err := os.Create(stdout)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", stdout, err)
	}
	defer out.Close()
	errf, err := os.Create(stderr)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", stderr, err)
	}
	defer errf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, errf
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", argv[0], err)
	}
	c := &child{cmd: cmd, stdout: stdout, stderr: stderr, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// pid is the child's process ID.
func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the child has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// waitFor polls a file of the child until match is true for its contents;
// it fails when the child exits first or the timeout passes.
func (c *child) waitFor(file string, match func([]byte) bool, timeout time.Duration, what string) error {
	deadline := time.Now().Add(timeout)
	for {
		b, _ := os.ReadFile(file)
		if match(b) {
			return nil
		}
		if c.exited() {
			return fmt.Errorf("%s: exited before %s: %s", c.cmd.Args[0], what, c.tail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: no %s within %s: %s", c.cmd.Args[0], what, timeout, c.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tail is the end of the child's stderr, for error messages.
func (c *child) tail() string {
	b, _ := os.ReadFile(c.stderr)
	b = bytes.TrimSpace(b)
	if len(b) > 600 {
		b = b[len(b)-600:]
	}
	if len(b) == 0 {
		return "(no stderr)"
	}
	return string(b)
}

// stop sends sig and waits up to timeout, then kills the process group and
// says so. The exit status is in waitErr afterwards.
func (c *child) stop(sig syscall.Signal, timeout time.Duration) error {
	if c.exited() {
		return nil
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
		return nil
	case <-time.After(timeout):
		_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
		<-c.done
		return fmt.Errorf("%s did not stop within %s after %s; killed", c.cmd.Args[0], timeout, sig)
	}
}

// cpuTicks is utime+stime of every thread of a process, in userHZ ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading stat: %w", err)
	}
	return parseStatTicks(string(b))
}

// parseStatTicks takes utime (field 14) and stime (field 15) of a
// /proc/PID/stat line; the command name (field 2) may hold spaces and ')'.
func parseStatTicks(stat string) (int64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("stat: no ')' after the command name")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the command name, want at least 13", len(f))
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat: utime %q stime %q are not numbers", f[11], f[12])
	}
	return u + s, nil
}

// peakRSSKiB is VmHWM of a process, in KiB.
func peakRSSKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading status: %w", err)
	}
	return statusField(string(b), "VmHWM")
}

// statusField returns a "Name:   N kB" value of /proc/PID/status.
func statusField(status, name string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != name {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			break
		}
		return strconv.ParseInt(f[0], 10, 64)
	}
	return 0, fmt.Errorf("status: no %s", name)
}

// progIDs lists the BPF programs a process holds open, from the prog_id
// lines of /proc/PID/fdinfo (bpftool 7.1, bookworm's, does not list pids).
func progIDs(pid int) ([]int, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("listing fds: %w", err)
	}
	seen := map[int]bool{}
	var ids []int
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil || target != "anon_inode:bpf-prog" {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, e.Name()))
		if err != nil {
			continue
		}
		if id, ok := fdinfoProgID(string(b)); ok && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// fdinfoProgID returns the prog_id of a BPF program fd's fdinfo.
func fdinfoProgID(fdinfo string) (int, bool) {
	for _, line := range strings.Split(fdinfo, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && k == "prog_id" {
			id, err := strconv.Atoi(strings.TrimSpace(v))
			return id, err == nil
		}
	}
	return 0, false
}
