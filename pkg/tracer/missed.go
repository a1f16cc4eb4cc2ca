// The kernel's own count of missed kprobe and kretprobe hits, per link.

package tracer

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/httptrace/httptrace/pkg/kernel"
	"github.com/httptrace/httptrace/pkg/probes"
)

// Constants of the bpf(2) ABI (linux/bpf.h) used to read a link's info.
const (
	bpfObjGetInfoByFD  = 15 // BPF_OBJ_GET_INFO_BY_FD
	bpfLinkTypePerf    = 7  // BPF_LINK_TYPE_PERF_EVENT
	bpfPerfEventKprobe = 3  // BPF_PERF_EVENT_KPROBE
	bpfPerfEventKret   = 4  // BPF_PERF_EVENT_KRETPROBE
)

// perfLinkInfo is the start of struct bpf_link_info for a perf event link
// holding a kprobe: the fields up to kprobe.missed (Linux 6.7).
type perfLinkInfo struct {
	LinkType  uint32
	ID        uint32
	ProgID    uint32
	_         uint32
	PerfType  uint32 // perf_event.type
	_         uint32
	FuncName  uint64 // perf_event.kprobe.func_name
	NameLen   uint32
	Offset    uint32
	Addr      uint64
	Missed    uint64
	Cookie    uint64
	Remainder [64]byte // room for fields added later
}

// kprobeMissed asks the kernel how many times the kprobe or kretprobe
// behind a link missed: for a kretprobe, returns lost when more calls were
// in flight than its maxactive instances. Kernels before 6.7 do not say.
func kprobeMissed(h kernel.Host, linkFD int) (missed uint64, err error) {
	if linkFD < 0 {
		return 0, fmt.Errorf("no link fd")
	}
	if !h.CountsKprobeMisses() {
		return 0, fmt.Errorf("kernels before 6.7 do not count kprobe misses per link")
	}
	var info perfLinkInfo
	attr := struct {
		FD      uint32
		InfoLen uint32
		Info    uint64
	}{uint32(linkFD), uint32(unsafe.Sizeof(info)), uint64(uintptr(unsafe.Pointer(&info)))}
	_, _, errno := unix.Syscall(unix.SYS_BPF, bpfObjGetInfoByFD, uintptr(unsafe.Pointer(&attr)), unsafe.Sizeof(attr))
	if errno != 0 {
		return 0, fmt.Errorf("reading link info: %w", errno)
	}
	if info.LinkType != bpfLinkTypePerf || (info.PerfType != bpfPerfEventKprobe && info.PerfType != bpfPerfEventKret) {
		return 0, fmt.Errorf("link of type %d, perf event type %d, is not a kprobe", info.LinkType, info.PerfType)
	}
	return info.Missed, nil
}

// kprobeMissed sums what the kernel says the attached kprobes missed; ok is
// false when no kprobe is attached or the kernel does not say.
func (t *Tracer) kprobeMissed() (missed uint64, ok bool) {
	for _, l := range t.links {
		if l.Spec.Kind != probes.Kprobe && l.Spec.Kind != probes.Kretprobe {
			continue
		}
		m, err := kprobeMissed(t.host, l.FileDescriptor())
		if err != nil {
			t.log.WithError(err).WithField("probe", l.Spec.String()).Debug("no kernel count of kprobe misses")
			return 0, false
		}
		missed += m
		ok = true
	}
	return missed, ok
}
