// The resolver: a process's identity read once from /proc and kept in a
// bounded cache, so exchanges are labelled without a file read each.

package container

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/httptrace/httptrace/pkg/procs"
)

// Process is where a process runs: its container and pod, its PID in its
// own PID namespace (0 when that is the host's), and the names the runtime
// told.
type Process struct {
	Identity
	PID uint32
	Names
}

// Names are what the runtime tells of a container: its name and, on
// Kubernetes, its pod's name and namespace.
type Names struct {
	Name, Pod, Namespace string
}

// NamesOf are a container's names, as its runtime describes it (the pod's
// from the kubelet's labels).
func NamesOf(info Info) Names {
	return Names{Name: info.Name, Pod: info.Labels[LabelPodName], Namespace: info.Labels[LabelPodNamespace]}
}

// maxProcesses bounds the cache: past it, the oldest half is dropped.
const maxProcesses = 8192

// checkAfter is how long an entry is used before the process's start time
// is read again: a traced process's exit drops its entry at once, but one
// that is not traced (a client-side port selects any process) has no exit
// record, and its PID may be reused.
const checkAfter = 5 * time.Second

// Resolver finds processes' containers. Lookup and Forget are for one
// goroutine; SetNames for any.
type Resolver struct {
	procRoot string
	cache    map[uint32]entry

	mu    sync.Mutex
	names map[string]Names // container ID -> its names, as the runtime says
}

type entry struct {
	proc  Process
	start uint64        // the process's start time (field 22 of /proc/PID/stat)
	at    time.Duration // when it was read or checked, on the caller's clock
}

// NewResolver reads processes under procRoot (/proc).
func NewResolver(procRoot string) *Resolver {
	return &Resolver{procRoot: procRoot, cache: map[uint32]entry{}, names: map[string]Names{}}
}

// Lookup returns where process pid runs, at now on a monotonic clock of
// the caller's (the records' own, so that a label costs no clock read): the
// zero Process for one of the host, or one gone before it was ever read
// (which is not remembered).
func (r *Resolver) Lookup(pid uint32, now time.Duration) Process {
	p := r.lookup(pid, now)
	if p.ID != "" {
		r.mu.Lock()
		p.Names = r.names[p.ID]
		r.mu.Unlock()
	}
	return p
}

// SetNames names container id (as its runtime does).
func (r *Resolver) SetNames(id string, n Names) {
	r.mu.Lock()
	r.names[id] = n
	r.mu.Unlock()
}

// ForgetNames drops container id's names (it is gone).
func (r *Resolver) ForgetNames(id string) {
	r.mu.Lock()
	delete(r.names, id)
	r.mu.Unlock()
}

func (r *Resolver) lookup(pid uint32, now time.Duration) Process {
	e, ok := r.cache[pid]
	if ok && now-e.at < checkAfter {
		return e.proc
	}
	if ok {
		start, err := procs.StartTime(r.procRoot, int(pid))
		if err != nil || start == e.start {
			// Gone (its last exchanges keep its label) or the same process.
			e.at = now
			r.cache[pid] = e
			return e.proc
		}
	}
	p, start, err := r.read(pid)
	if err != nil {
		return Process{}
	}
	if len(r.cache) >= maxProcesses {
		r.evict()
	}
	r.cache[pid] = entry{p, start, now}
	return p
}

// evict drops the half of the cache read longest ago.
func (r *Resolver) evict() {
	ats := make([]time.Duration, 0, len(r.cache))
	for _, e := range r.cache {
		ats = append(ats, e.at)
	}
	slices.Sort(ats)
	cut := ats[len(ats)/2]
	for pid, e := range r.cache {
		if e.at <= cut {
			delete(r.cache, pid)
		}
	}
}

// Forget drops what is known of pid: it exited, or exec'd (a runtime's
// exec joins the container's cgroup before it execs).
func (r *Resolver) Forget(pid uint32) { delete(r.cache, pid) }

func (r *Resolver) read(pid uint32) (Process, uint64, error) {
	dir := fmt.Sprintf("%s/%d/", r.procRoot, pid)
	start, err := procs.StartTime(r.procRoot, int(pid))
	if err != nil {
		return Process{}, 0, err
	}
	cg, err := os.ReadFile(dir + "cgroup")
	if err != nil {
		return Process{}, 0, err
	}
	p := Process{Identity: ParseCgroup(string(cg))}
	if p.ID != "" {
		if status, err := os.ReadFile(dir + "status"); err == nil {
			p.PID = innermostPID(string(status))
		}
	}
	return p, start, nil
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

// Processes lists the processes under procRoot that run in container id.
func Processes(procRoot, id string) ([]int, error) {
	pids, err := procs.PIDs(procRoot)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, pid := range pids {
		cg, err := os.ReadFile(fmt.Sprintf("%s/%d/cgroup", procRoot, pid))
		if err == nil && ParseCgroup(string(cg)).ID == id {
			out = append(out, pid)
		}
	}
	return out, nil
}
