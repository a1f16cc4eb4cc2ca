package pipeline

import (
	"errors"

	"golang.org/x/sys/unix"

	"github.com/httptrace/httptrace/pkg/event"
)

// livenessEveryNs is how often the set is checked against the running
// processes, in case an exit record was lost.
const livenessEveryNs = uint64(1e9)

// Procs is the set of traced processes, kept from the programs' fork, exec
// and exit records. A run that selects processes only by PID ends when the
// set is empty; one that also selects by command name keeps waiting. It
// belongs to the pipeline's goroutine.
type Procs struct {
	live      map[uint32]bool
	keepEmpty bool
	checkedNs uint64
}

// NewProcs starts the set with the processes traced at start.
func NewProcs(pids []int, keepWaitingWhenEmpty bool) *Procs {
	p := &Procs{live: make(map[uint32]bool, len(pids)), keepEmpty: keepWaitingWhenEmpty}
	for _, pid := range pids {
		p.live[uint32(pid)] = true
	}
	return p
}

// Apply updates the set from one record.
func (p *Procs) Apply(ev *event.Proc) {
	switch ev.Op {
	case event.ProcFork, event.ProcExec, event.ProcListen:
		p.live[ev.PID] = true
	case event.ProcExit:
		delete(p.live, ev.PID)
	}
}

// Len is the number of traced processes.
func (p *Procs) Len() int {
	return len(p.live)
}

// Done reports whether the run should end: no traced process is left and
// none can come. Once a second it also drops processes that are gone
// without an exit record.
func (p *Procs) Done(nowNs uint64) bool {
	if nowNs-p.checkedNs >= livenessEveryNs {
		p.checkedNs = nowNs
		for pid := range p.live {
			if errors.Is(unix.Kill(int(pid), 0), unix.ESRCH) {
				delete(p.live, pid)
			}
		}
	}
	return !p.keepEmpty && len(p.live) == 0
}
