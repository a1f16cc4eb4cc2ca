// Counters: the programs' stats map, the kernel's kprobe misses, and per-program run statistics.

package tracer

/*
#include <bpf/bpf.h>

static int prog_run_stats(int fd, unsigned long long *cnt, unsigned long long *ns, unsigned long long *skipped)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int err = bpf_prog_get_info_by_fd(fd, &info, &len);

	*cnt = info.run_cnt;
	*ns = info.run_time_ns;
	*skipped = info.recursion_misses;
	return err;
}
*/
import "C"

import (
	"fmt"
	"syscall"
	"unsafe"

	"github.com/httptrace/httptrace/pkg/bpfobj"
	"github.com/httptrace/httptrace/pkg/event"
)

// Counters are the programs' stats map summed over CPUs, and what the kernel
// counted on the kprobes.
type Counters struct {
	BPF [event.StatCount]uint64
	// KprobeMissed is the kernel's count of kprobe and kretprobe misses
	// (kprobe mode); KprobeMissedKnown says whether the kernel gave one.
	KprobeMissed      uint64
	KprobeMissedKnown bool
	// RunsSkipped is how many probe hits ran no program because the kernel
	// was already running a BPF program on that CPU (Linux 6.7 and later
	// count these; 0 on older kernels).
	RunsSkipped uint64
}

// Counters reads the current counts; the kernel's kprobe counts are those
// read when the probes were detached, or now while they are attached.
func (t *Tracer) Counters() (Counters, error) {
	c := Counters{KprobeMissed: t.kprobeMissedN, KprobeMissedKnown: t.kprobeMissedKnown, RunsSkipped: t.runsSkippedN}
	if len(t.links) > 0 {
		c.KprobeMissed, c.KprobeMissedKnown = t.kprobeMissed()
		c.RunsSkipped = t.runsSkipped()
	}
	var err error
	c.BPF, err = t.BPFStats()
	return c, err
}

// BPFStats reads the programs' counters (the stats map) alone: safe from
// any goroutine while the tracer is open (a metrics scrape).
func (t *Tracer) BPFStats() ([event.StatCount]uint64, error) {
	var out [event.StatCount]uint64
	m, err := t.bpfMap(bpfobj.MapStats)
	if err != nil {
		return out, err
	}
	for i := range out {
		key := uint32(i)
		raw, err := m.GetValue(unsafe.Pointer(&key))
		if err != nil {
			return out, fmt.Errorf("reading stat %s: %w", event.Stat(i), err)
		}
		// A per-CPU value: one u64 a CPU, summed.
		for off := 0; off+8 <= len(raw); off += 8 {
			out[i] += *(*uint64)(unsafe.Pointer(&raw[off]))
		}
	}
	return out, nil
}

// ProgramStat is what the kernel counted for one attached program. The run
// counts grow only while kernel.bpf_stats_enabled is 1.
type ProgramStat struct {
	Name      string
	RunCount  uint64
	RunTimeNs uint64
	// Skipped is how many times the kernel did not run the program because
	// another BPF program was running on that CPU (recursion_misses, which
	// kernels count for kprobe and tracepoint programs from Linux 6.7).
	Skipped uint64
}

// runsSkipped sums the runs the kernel skipped over the attached programs
// (0 when it cannot be read).
func (t *Tracer) runsSkipped() uint64 {
	stats, err := t.ProgramStats()
	if err != nil {
		t.log.WithError(err).Debug("no kernel count of skipped program runs")
	}
	var n uint64
	for _, s := range stats {
		n += s.Skipped
	}
	return n
}

// ProgramStats reads the kernel's run count and run time of each attached
// program, once per program, in attach order (a TLS program whose probes
// are all detached again still counts).
func (t *Tracer) ProgramStats() ([]ProgramStat, error) {
	var out []ProgramStat
	seen := map[string]bool{}
	t.mu.Lock()
	var names []string
	for _, l := range t.links {
		names = append(names, l.Program)
	}
	names = append(names, t.uprobePrograms...)
	t.mu.Unlock()
	for _, name := range names {
		if seen[name] {
			continue
		}
		seen[name] = true
		prog, err := t.mod.GetProgram(name)
		if err != nil {
			return out, fmt.Errorf("finding program %s: %w", name, err)
		}
		var cnt, ns, skipped C.ulonglong
		if rc := C.prog_run_stats(C.int(prog.FileDescriptor()), &cnt, &ns, &skipped); rc != 0 {
			return out, fmt.Errorf("reading info of program %s: %w", name, syscall.Errno(-rc))
		}
		out = append(out, ProgramStat{Name: name, RunCount: uint64(cnt), RunTimeNs: uint64(ns), Skipped: uint64(skipped)})
	}
	return out, nil
}
