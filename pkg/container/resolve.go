// The resolver: a process's identity read once from /proc and kept in a
// bounded cache, so exchanges are labelled without a file read each.

package container

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Process is where a process runs: its container and pod, and its PID in
// its own PID namespace (0 when that is the host's).
type Process struct {
	Identity
	PID uint32
}

// maxProcesses bounds the cache: past it, the cache starts again empty.
const maxProcesses = 8192

// maxAge is how long an entry is trusted. The exit of a traced process
// drops its entry at once; a process that is not traced (a client-side
// port selects any process) has no exit record, and its PID may be reused.
const maxAge = 30 * time.Second

// Resolver finds processes' containers. It is not safe for concurrent use.
type Resolver struct {
	procRoot string
	now      func() time.Time
	cache    map[uint32]entry
}

type entry struct {
	proc Process
	at   time.Time
}

// NewResolver reads processes under procRoot (/proc).
func NewResolver(procRoot string) *Resolver {
	return &Resolver{procRoot: procRoot, now: time.Now, cache: map[uint32]entry{}}
}

// Lookup returns where process pid runs: the zero Process for one of the
// host, or one gone before it was read.
func (r *Resolver) Lookup(pid uint32) Process {
	now := r.now()
	if e, ok := r.cache[pid]; ok && now.Sub(e.at) < maxAge {
		return e.proc
	}
	p := r.read(pid)
	if len(r.cache) >= maxProcesses {
		clear(r.cache)
	}
	r.cache[pid] = entry{p, now}
	return p
}

// Forget drops what is known of pid: it exited, or exec'd (a runtime's
// exec joins the container's cgroup before it execs).
func (r *Resolver) Forget(pid uint32) { delete(r.cache, pid) }

func (r *Resolver) read(pid uint32) Process {
	dir := fmt.Sprintf("%s/%d/", r.procRoot, pid)
	cg, err := os.ReadFile(dir + "cgroup")
	if err != nil {
		return Process{}
	}
	p := Process{Identity: ParseCgroup(string(cg))}
	if p.ID == "" {
		return p
	}
	status, err := os.ReadFile(dir + "status")
	if err == nil {
		p.PID = innermostPID(string(status))
	}
	return p
}

// innermostPID reads the NSpid line of /proc/PID/status: the PID in each
// namespace from the host's in; the last is the process's own, reported
// when there is more than one.
func innermostPID(status string) uint32 {
	for _, line := range strings.Split(status, "\n") {
		rest, ok := strings.CutPrefix(line, "NSpid:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			return 0
		}
		n, err := strconv.ParseUint(f[len(f)-1], 10, 32)
		if err != nil {
			return 0
		}
		return uint32(n)
	}
	return 0
}
