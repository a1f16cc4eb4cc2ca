// PID checks: each PID to trace names a live user-space process other than httptrace.
package preflight

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// pfKthread is PF_KTHREAD in the flags of /proc/PID/stat (include/linux/sched.h).
const pfKthread = 0x00200000

// selfPID is httptrace's own PID; a variable so tests can pretend.
var selfPID = os.Getpid

// PIDs confirms each PID names a process httptrace can trace: one that
// exists, has not exited, runs in user space, is not a thread of another
// process and is not httptrace itself. PID 1 is allowed.
func PIDs(pids []int) error {
	for _, pid := range pids {
		if err := checkPID(pid); err != nil {
			return err
		}
	}
	return nil
}

// procStat is what the checks need from /proc/PID/stat.
type procStat struct {
	comm  string
	state byte
	ppid  int
	flags uint64
}

func checkPID(pid int) error {
	if pid <= 0 {
		return fmt.Errorf("PID %d is not a process ID", pid)
	}
	st, err := readStat(pid)
	if err != nil {
		return pidError(pid, err)
	}
	if pid == selfPID() {
		return fmt.Errorf("PID %d is httptrace itself: pass the PID of the process to trace", pid)
	}
	status, err := readStatus(pid)
	if err != nil {
		return pidError(pid, err)
	}
	// A leader whose other threads still run is a zombie too, but alive.
	if exited(st.state) && status.threads <= 1 {
		return fmt.Errorf("PID %d (%s) has exited and waits for its parent (PID %d) to reap it: there is nothing left to trace", pid, st.comm, st.ppid)
	}
	if st.flags&pfKthread != 0 {
		cmdline, err := os.ReadFile(fmt.Sprintf("%s/%d/cmdline", ProcRoot, pid))
		if err == nil && len(cmdline) == 0 {
			return fmt.Errorf("PID %d (%s) is a kernel thread, which makes no HTTP requests: pass the PID of a user-space process", pid, st.comm)
		}
	}
	if status.tgid != pid {
		return fmt.Errorf("PID %d is a thread of process %d: pass --pid %d (every thread of a process is traced)", pid, status.tgid, status.tgid)
	}
	return nil
}

// pidError says a process is gone, or why its /proc files did not read.
func pidError(pid int, err error) error {
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("PID %d: no such process", pid)
	}
	return fmt.Errorf("PID %d: %w", pid, err)
}

// exited reports whether a /proc state letter is a zombie or a dead task.
func exited(state byte) bool { return state == 'Z' || state == 'X' || state == 'x' }

// readStat parses /proc/PID/stat. The command name sits in parentheses and
// may itself hold spaces and parentheses, so fields are counted from the
// last ')'.
func readStat(pid int) (procStat, error) {
	data, err := os.ReadFile(fmt.Sprintf("%s/%d/stat", ProcRoot, pid))
	if err != nil {
		return procStat{}, err
	}
	open, end := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("unreadable /proc stat %q", data)
	}
	// After ")": state ppid pgrp session tty_nr tpgid flags ...
	f := strings.Fields(string(data[end+1:]))
	if len(f) < 7 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("unreadable /proc stat %q", data)
	}
	ppid, err1 := strconv.Atoi(f[1])
	flags, err2 := strconv.ParseUint(f[6], 10, 64)
	if err1 != nil || err2 != nil {
		return procStat{}, fmt.Errorf("unreadable /proc stat %q", data)
	}
	return procStat{comm: string(data[open+1 : end]), state: f[0][0], ppid: ppid, flags: flags}, nil
}

// procStatus is what the checks need from /proc/PID/status.
type procStatus struct {
	tgid    int // the process the task belongs to
	threads int // its live threads
}

// readStatus reads the Tgid and Threads lines of /proc/PID/status.
func readStatus(pid int) (procStatus, error) {
	data, err := os.ReadFile(fmt.Sprintf("%s/%d/status", ProcRoot, pid))
	if err != nil {
		return procStatus{}, fmt.Errorf("reading process status: %w", err)
	}
	st := procStatus{tgid: -1}
	for _, line := range strings.Split(string(data), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok || (name != "Tgid" && name != "Threads") {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return procStatus{}, fmt.Errorf("parsing %s %q in process status: %w", name, v, err)
		}
		if name == "Tgid" {
			st.tgid = n
		} else {
			st.threads = n
		}
	}
	if st.tgid < 0 {
		return procStatus{}, errors.New("no Tgid line in process status")
	}
	return st, nil
}
