// Kprobes and kretprobes made as tracefs kprobe events.
//
// A kretprobe keeps one instance per call in flight. Made through perf
// (what libbpf does), it gets the kernel's default number of instances:
// on kernels without CONFIG_PREEMPTION (Debian's 5.10, many distribution
// kernels) that is the number of CPUs, elsewhere max(10, 2 x CPUs). Every
// thread blocked inside the probed function holds one (a read on a pipe or
// a terminal, a write to a full pipe, this tool's own output), and while
// none is free the returns of all other calls go unseen: on a 2-CPU machine
// two blocked readers are enough. A kprobe event written to tracefs can ask
// for more (up to 4096), so httptrace's kretprobes are made that way. Its
// entry kprobes are too, for one reason: the kernel says how many hits each
// tracefs kprobe event missed (kprobe_profile) on every kernel, where it
// says so for perf-made probes only from 6.7 on. The BPF programs are
// attached to the events' perf tracepoints.

package tracer

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	bpf "github.com/aquasecurity/libbpfgo"
	"golang.org/x/sys/unix"

	"github.com/httptrace/httptrace/pkg/kernel"
)

// kretprobeMaxActive is how many calls in flight each kretprobe can follow
// (the kernel's largest, KRETPROBE_MAXACTIVE_MAX).
const kretprobeMaxActive = 4096

// kprobeGroupPrefix starts the tracefs group of this process's kprobe
// events: httptrace_<pid namespace>_<pid>. tracefs is shared by every PID
// namespace, so the namespace keeps two processes with one PID in
// different containers apart, and a later run removes only the stale
// groups of its own namespace, where it can tell whether a PID is gone.
const kprobeGroupPrefix = "httptrace_"

// kprobeEvent is a kprobe event this process wrote to tracefs.
type kprobeEvent struct {
	host         kernel.Host
	group, event string
}

// kprobeGroup is this process's tracefs group.
func kprobeGroup() string { return groupName(selfPIDNamespace(), os.Getpid()) }

// groupName is the tracefs group of process pid of PID namespace ns.
func groupName(ns string, pid int) string {
	return kprobeGroupPrefix + ns + "_" + strconv.Itoa(pid)
}

// kprobeEventsPath is tracefs's file of kprobe event definitions.
func kprobeEventsPath(h kernel.Host) string { return filepath.Join(h.Tracefs, "kprobe_events") }

// selfPIDNamespace is the inode number of this process's PID namespace
// ("0" when /proc does not say).
var selfPIDNamespace = sync.OnceValue(func() string {
	link, err := os.Readlink("/proc/self/ns/pid")
	if ns, ok := pidNamespaceInode(link); err == nil && ok {
		return ns
	}
	return "0"
})

// pidNamespaceInode takes the inode number out of a /proc/PID/ns/pid link
// ("pid:[4026531836]").
func pidNamespaceInode(link string) (string, bool) {
	ns, ok := strings.CutPrefix(link, "pid:[")
	ns, ok2 := strings.CutSuffix(ns, "]")
	if !ok || !ok2 || !allDigits(ns) {
		return "", false
	}
	return ns, true
}

// allDigits reports whether s is a non-empty decimal number.
func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// maxEventName is the longest tracefs event name (MAX_EVENT_NAME_LEN - 1).
const maxEventName = 63

// eventName is the tracefs event name of the n-th attachment, a kprobe
// (kind 'p') or kretprobe (kind 'r') on symbol, for the process whose group
// is group: letters, digits and '_' only, at most maxEventName characters.
// n keeps two probes on one function apart (a configuration may name one
// twice). kprobe_profile names events without their group, so the name ends
// with the group's namespace and PID to be one no other httptrace process
// uses.
func eventName(kind byte, symbol string, n int, group string) string {
	suffix := "_" + strconv.Itoa(n) + "_" + strings.TrimPrefix(group, kprobeGroupPrefix)
	b := []byte(string(kind) + "_" + symbol)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b)+len(suffix) > maxEventName {
		b = b[:max(maxEventName-len(suffix), 0)]
	}
	return string(b) + suffix
}

// appendKprobeEvents writes one line to tracefs's kprobe_events.
func appendKprobeEvents(h kernel.Host, line string) error {
	f, err := os.OpenFile(kprobeEventsPath(h), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// attachKprobeEvent makes a kprobe on symbol, or a kretprobe with
// kretprobeMaxActive instances when ret is set, as the n-th attachment,
// and attaches prog to it.
func attachKprobeEvent(h kernel.Host, prog *bpf.BPFProg, symbol string, ret bool, n int) (*bpf.BPFLink, *kprobeEvent, error) {
	group := kprobeGroup()
	kind, probe := byte('p'), "p"
	if ret {
		kind, probe = 'r', fmt.Sprintf("r%d", kretprobeMaxActive)
	}
	ev := &kprobeEvent{host: h, group: group, event: eventName(kind, symbol, n, group)}
	def := fmt.Sprintf("%s:%s/%s %s", probe, ev.group, ev.event, symbol)
	if err := appendKprobeEvents(h, def); err != nil {
		return nil, nil, fmt.Errorf("writing %q to %s: %w", def, kprobeEventsPath(h), err)
	}
	l, err := ev.attach(prog)
	if err != nil {
		ev.remove()
		return nil, nil, err
	}
	return l, ev, nil
}

// attach opens the event's perf tracepoint on every CPU and attaches prog.
func (ev *kprobeEvent) attach(prog *bpf.BPFProg) (*bpf.BPFLink, error) {
	idPath := filepath.Join(ev.host.Tracefs, "events", ev.group, ev.event, "id")
	raw, err := os.ReadFile(idPath)
	if err != nil {
		return nil, fmt.Errorf("reading the kprobe event's id: %w", err)
	}
	id, err := strconv.ParseUint(strings.TrimSpace(string(raw)), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", idPath, err)
	}
	attr := unix.PerfEventAttr{
		Type:        unix.PERF_TYPE_TRACEPOINT,
		Config:      id,
		Sample:      1,
		Wakeup:      1,
		Sample_type: unix.PERF_SAMPLE_RAW,
	}
	attr.Size = uint32(unsafe.Sizeof(attr))
	// pid -1 with cpu 0: every process, on every CPU (a kprobe event is not per CPU).
	fd, err := unix.PerfEventOpen(&attr, -1, 0, -1, unix.PERF_FLAG_FD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("perf_event_open of the kprobe event: %w", err)
	}
	l, err := prog.AttachPerfEvent(fd)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	return l, nil
}

// remove deletes the event from tracefs (once nothing holds it open).
func (ev *kprobeEvent) remove() error {
	return appendKprobeEvents(ev.host, fmt.Sprintf("-:%s/%s", ev.group, ev.event))
}

// removeStaleKprobeEvents deletes the kprobe events that earlier httptrace
// processes of PID namespace ns, now gone (killed before they could clean
// up), left in tracefs. Groups of other namespaces are left alone: their
// processes are not in procRoot. It returns how many it removed.
func removeStaleKprobeEvents(h kernel.Host, procRoot, ns string) (int, error) {
	f, err := os.Open(kprobeEventsPath(h))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var stale []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// e.g. "r4096:httptrace_4026531836_123/r_ksys_read_1_4026531836_123 ksys_read"
		def, _, _ := strings.Cut(sc.Text(), " ")
		_, name, ok := strings.Cut(def, ":")
		group, _, _ := strings.Cut(name, "/")
		if !ok || !strings.HasPrefix(group, kprobeGroupPrefix) {
			continue
		}
		groupNS, pidText, ok := strings.Cut(strings.TrimPrefix(group, kprobeGroupPrefix), "_")
		if !ok || groupNS != ns || !allDigits(pidText) {
			continue
		}
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || processAlive(procRoot, pid) {
			continue
		}
		stale = append(stale, name)
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	for i, name := range stale {
		if err := appendKprobeEvents(h, "-:"+name); err != nil {
			return i, fmt.Errorf("removing stale kprobe event %s: %w", name, err)
		}
	}
	return len(stale), nil
}

// processAlive says whether pid is a running process.
func processAlive(procRoot string, pid int) bool {
	_, err := os.Stat(filepath.Join(procRoot, strconv.Itoa(pid)))
	return err == nil || !errors.Is(err, syscall.ENOENT)
}
