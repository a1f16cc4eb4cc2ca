// Package procs finds, in /proc, the processes to trace at start-up: the
// given ones, their descendants, and the processes running a given name.
package procs

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Proc is one process as /proc/PID/stat shows it.
type Proc struct {
	PID, PPID int
	Comm      string
}

// PIDs lists the processes under procRoot (normally /proc).
func PIDs(procRoot string) ([]int, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out, nil
}

// StartTime reads process pid's start time (field 22 of its stat, clock
// ticks after boot): with the PID, it names one process.
func StartTime(procRoot string, pid int) (uint64, error) {
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	stat := string(data)
	rest := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:]) // the name may hold anything
	if len(rest) < 20 {
		return 0, fmt.Errorf("process %d: malformed stat %q", pid, stat)
	}
	return strconv.ParseUint(rest[19], 10, 64) // field 22: the 20th after the name
}

// List reads every process under procRoot (normally /proc). Processes that
// exit while it reads are left out.
func List(procRoot string) ([]Proc, error) {
	pids, err := PIDs(procRoot)
	if err != nil {
		return nil, err
	}
	var out []Proc
	for _, pid := range pids {
		data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
		if err != nil {
			continue // gone
		}
		p, err := parseStat(pid, string(data))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Alive reports whether process pid is running: its /proc entry exists and
// it is not a zombie (exited, not yet reaped) or dead. A leader thread that
// exited shows as a zombie while the process's other threads run: such a
// process is alive while it has more than that one thread.
func Alive(procRoot string, pid int) bool {
	dir := filepath.Join(procRoot, strconv.Itoa(pid))
	data, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return false
	}
	stat := string(data)
	rest := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	if len(rest) == 0 {
		return false
	}
	switch rest[0] {
	case "X", "x":
		return false
	case "Z":
		tasks, err := os.ReadDir(filepath.Join(dir, "task"))
		return err == nil && len(tasks) > 1
	}
	return true
}

// parseStat reads pid, comm and ppid from /proc/PID/stat: "pid (comm) state
// ppid ...", where comm may itself hold spaces and parentheses.
func parseStat(pid int, stat string) (Proc, error) {
	open, close := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 0 || close < open {
		return Proc{}, fmt.Errorf("process %d: malformed stat %q", pid, stat)
	}
	rest := strings.Fields(stat[close+1:])
	if len(rest) < 2 {
		return Proc{}, fmt.Errorf("process %d: malformed stat %q", pid, stat)
	}
	ppid, err := strconv.Atoi(rest[1])
	if err != nil {
		return Proc{}, fmt.Errorf("process %d: parent %q: %w", pid, rest[1], err)
	}
	return Proc{PID: pid, PPID: ppid, Comm: stat[open+1 : close]}, nil
}

// Select returns, sorted, the processes among all that are in pids, run a
// name in comms (compared as the kernel stores it: at most 15 bytes), or
// descend from one of those.
func Select(all []Proc, pids []int, comms []string) []int {
	chosen := map[int]bool{}
	for _, pid := range pids {
		chosen[pid] = true
	}
	names := map[string]bool{}
	for _, c := range comms {
		names[Truncate(c)] = true
	}
	children := map[int][]int{}
	for _, p := range all {
		children[p.PPID] = append(children[p.PPID], p.PID)
		if names[p.Comm] {
			chosen[p.PID] = true
		}
	}
	queue := make([]int, 0, len(chosen))
	for pid := range chosen {
		queue = append(queue, pid)
	}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			if !chosen[c] {
				chosen[c] = true
				queue = append(queue, c)
			}
		}
	}
	out := make([]int, 0, len(chosen))
	for pid := range chosen {
		out = append(out, pid)
	}
	sort.Ints(out)
	return out
}

// CommLen is the size of the kernel's comm, NUL included.
const CommLen = 16

// Truncate cuts a process name to what the kernel keeps of it.
func Truncate(comm string) string {
	if len(comm) >= CommLen {
		return comm[:CommLen-1]
	}
	return comm
}
