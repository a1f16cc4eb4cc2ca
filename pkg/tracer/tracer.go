// Package tracer loads the BPF programs with their settings, fills the maps
// that say what to trace, attaches every probe of a plan, and reports the
// programs' counters. Reading the records is left to the ring buffer's
// reader (EventsMapFD).
package tracer

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	bpf "github.com/aquasecurity/libbpfgo"
	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/bpfobj"
	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/kernel"
	"github.com/httptrace/httptrace/pkg/probes"
	"github.com/httptrace/httptrace/pkg/procs"
	"github.com/httptrace/httptrace/pkg/userbin"
)

// DefaultRingBytes is the ring buffer's size when Options.RingBytes is 0.
const DefaultRingBytes = 16 << 20

// Options say what to trace and how.
type Options struct {
	PIDs []int // processes (tgid) to trace, with their descendants
	// Comms are process names: running processes with one are traced, and
	// so is any process that execs one later.
	Comms        []string
	CaptureBytes int // bytes of each transfer copied (default config.DefaultCaptureBytes)
	RingBytes    int // ring buffer size, a power of two of at least a page (default DefaultRingBytes)
	// WakeupBytes is how full the ring must be before a record wakes the
	// reader (default a quarter of the ring); below that the reader finds
	// records on its own timed polls.
	WakeupBytes int
	// NoUnix leaves unix-domain stream sockets untraced (TCP only).
	NoUnix bool
	// ServerPorts and ClientPorts select by TCP port: the processes that
	// listen on a server port (now or later) are traced, and, of the traced
	// processes' connections, only those whose local port is a server port
	// or whose remote port is a client port are followed.
	ServerPorts, ClientPorts []int
	// AllProcesses makes every process but this one a candidate: with
	// ClientPorts alone, the connections of any process to those ports.
	AllProcesses bool
	Plan         probes.Plan // resolved (probes.Resolve)
	Log          logrus.FieldLogger
	// Host is the kernel (default kernel.DefaultHost); ProcRoot is where
	// running processes are listed (default /proc).
	Host     *kernel.Host
	ProcRoot string
	// Legacy loads the object for kernels without bpf_loop even where the
	// kernel has it (it is chosen anyway where the kernel has not).
	Legacy bool
	// TLS loads the TLS programs: TLS connections are recognised and their
	// syscall bytes (ciphertext) dropped, and uprobes on TLS libraries
	// (AttachUprobe) send the plaintext.
	TLS bool
	// WakeOnFork: a traced process's fork wakes the reader at once (its
	// child needs library probes of its own before it calls them).
	WakeOnFork bool
	// SelectCgroups: processes that fork or exec in a cgroup given to
	// TrackCgroup are tracked (selected containers).
	SelectCgroups bool
}

// Tracer is a loaded and attached BPF object.
type Tracer struct {
	mod   *bpfobj.Module
	links []*link
	// notAttached are the roles of optional probes that failed to attach.
	notAttached []string
	log         logrus.FieldLogger
	host        kernel.Host
	// legacy: the object for kernels without bpf_loop is loaded.
	legacy bool
	// listeners is how many processes listening on a server port were
	// found running at start.
	listeners int
	// tracked are the processes user space put in tracked_pids.
	tracked []int
	trackMu sync.Mutex // guards tracked: containers are tracked from their own goroutine
	// What the kernel said the kprobes missed, read just before detaching.
	kprobeMissedN     uint64
	kprobeMissedKnown bool
	// What the kernel said it skipped of the programs' runs, read then too.
	runsSkippedN uint64
	// skipsSet: skips_set is marked (SetSkip).
	skipsSet atomic.Bool
	// uprobes are the links AttachUprobe made, from another goroutine than
	// the one that detaches: mu guards them and detached.
	mu       sync.Mutex
	uprobes  []*link
	detached bool
	// uprobePrograms are the programs AttachUprobe ever attached, in order:
	// their run counts outlive the links (a traced process's probes go
	// with it).
	uprobePrograms []string
}

// link is one attached program.
type link struct {
	probes.Attachment
	*bpf.BPFLink
	event *kprobeEvent // the tracefs kprobe event behind a kprobe or kretprobe, removed after the link
}

// Open loads the object with its settings, fills the maps that say what to
// trace, and attaches every probe of the plan. It returns once all are live.
func Open(opts Options) (*Tracer, error) {
	if opts.Log == nil {
		opts.Log = logrus.StandardLogger()
	}
	if err := fillDefaults(&opts); err != nil {
		return nil, err
	}
	routeLibbpfLog(opts.Log)
	legacy := opts.Legacy || bpfobj.NeedsLegacy(opts.Host.Release)
	mod, err := bpfobj.Open(legacy)
	if err != nil {
		return nil, err
	}
	t := &Tracer{mod: mod, log: opts.Log, host: *opts.Host, legacy: legacy}
	if err := t.open(opts); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// fillDefaults sets what the options leave out and checks the rest.
func fillDefaults(o *Options) error {
	if o.Host == nil {
		o.Host = &kernel.DefaultHost
	}
	if o.ProcRoot == "" {
		o.ProcRoot = "/proc"
	}
	if o.CaptureBytes == 0 {
		o.CaptureBytes = config.DefaultCaptureBytes
	}
	if o.CaptureBytes < 0 || o.CaptureBytes > event.MaxCaptureBytes {
		return fmt.Errorf("capture of %d bytes is out of range (0 to %d)", o.CaptureBytes, event.MaxCaptureBytes)
	}
	if o.RingBytes == 0 {
		o.RingBytes = DefaultRingBytes
	}
	if o.RingBytes < 4096 || o.RingBytes&(o.RingBytes-1) != 0 || o.RingBytes > 1<<30 {
		return fmt.Errorf("ring buffer of %d bytes: want a power of two from 4096 to 1 GiB", o.RingBytes)
	}
	if o.WakeupBytes == 0 {
		o.WakeupBytes = o.RingBytes / 4
	}
	if o.Plan.Mode != probes.ModeKprobe && o.Plan.Mode != probes.ModeTracepoint {
		return fmt.Errorf("plan for attach mode %q: want kprobe or tracepoint", o.Plan.Mode)
	}
	return nil
}

func (t *Tracer) open(opts Options) error {
	if err := t.configure(opts); err != nil {
		return err
	}
	if err := t.mod.BPFLoadObject(); err != nil {
		return fmt.Errorf("loading BPF programs: %w", err)
	}
	if err := t.trackComms(opts.Comms); err != nil {
		return err
	}
	if err := t.selectPorts(opts.ServerPorts, opts.ClientPorts); err != nil {
		return err
	}
	// The process and socket events go live first: from then on a fork,
	// exec or exit of a tracked process is followed, so no process the scan
	// finds can exit unseen and stay tracked for another to take its PID.
	if err := t.attach(opts.Plan, opts.ProcRoot, true); err != nil {
		return err
	}
	if err := t.trackRunning(opts); err != nil {
		return err
	}
	if err := t.attach(opts.Plan, opts.ProcRoot, false); err != nil {
		return err
	}
	// A process whose parent was tracked after it forked is found by
	// scanning again.
	return t.trackRunning(opts)
}

// configure sets the globals, the ring's size and which programs load.
func (t *Tracer) configure(opts Options) error {
	globals := []struct {
		name  string
		value any
	}{
		{bpfobj.GlobalCaptureBytes, uint32(opts.CaptureBytes)},
		{bpfobj.GlobalWakeupBytes, uint64(opts.WakeupBytes)},
		{bpfobj.GlobalTraceUnix, !opts.NoUnix},
		{bpfobj.GlobalPortSelect, len(opts.ServerPorts)+len(opts.ClientPorts) > 0},
		{bpfobj.GlobalTraceAll, opts.AllProcesses},
		{bpfobj.GlobalSelfPID, uint32(os.Getpid())},
		{bpfobj.GlobalTraceTLS, opts.TLS},
		{bpfobj.GlobalWakeOnFork, opts.WakeOnFork},
		{bpfobj.GlobalSelectCgroups, opts.SelectCgroups},
		{bpfobj.GlobalGoConnDataOff, userbin.KnownGoTLSOffsets.ConnData},
		{bpfobj.GlobalGoConnFDOff, userbin.KnownGoTLSOffsets.ConnFD},
		{bpfobj.GlobalGoNetFDSysfdOff, userbin.KnownGoTLSOffsets.NetFDSysfd},
	}
	for _, g := range globals {
		if err := t.mod.InitGlobalVariable(g.name, g.value); err != nil {
			return fmt.Errorf("setting %s: %w", g.name, err)
		}
	}
	ring, err := t.bpfMap(bpfobj.MapEvents)
	if err != nil {
		return err
	}
	if err := ring.SetMaxEntries(uint32(opts.RingBytes)); err != nil {
		return fmt.Errorf("sizing the ring buffer: %w", err)
	}
	// Only the programs of the plan are loaded.
	want := opts.Plan.Programs()
	for _, name := range probes.UprobePrograms() {
		want[name] = opts.TLS
	}
	for _, name := range probes.ProgramNames() {
		prog, err := t.mod.GetProgram(name)
		if err != nil {
			return fmt.Errorf("finding program %s: %w", name, err)
		}
		if err := prog.SetAutoload(want[name]); err != nil {
			return fmt.Errorf("setting autoload of %s: %w", name, err)
		}
	}
	return nil
}

// trackRunning tracks the given processes, their descendants and the
// processes running a traced name, then untracks those that exited while
// it did (their exit may have come before they were tracked).
func (t *Tracer) trackRunning(opts Options) error {
	all, err := procs.List(opts.ProcRoot)
	if err != nil {
		return err
	}
	// Never pid 1: an init holding sockets for the services it starts
	// (socket activation) would bring in every process; the services hold
	// the sockets too.
	listeners := slices.DeleteFunc(procs.Listening(opts.ProcRoot, opts.ServerPorts), func(pid int) bool { return pid == 1 })
	t.listeners = max(t.listeners, len(listeners))
	if err := t.trackPIDs(procs.Select(all, append(slices.Clone(opts.PIDs), listeners...), opts.Comms)); err != nil {
		return err
	}
	return t.untrackExited(opts.ProcRoot)
}

// attach attaches the programs of the plan's event hooks (events) or of
// all its other hooks at their specs. A required probe that fails is an
// error; an optional one is logged and skipped.
func (t *Tracer) attach(plan probes.Plan, procRoot string, events bool) error {
	if !events {
		for _, s := range plan.Skipped {
			t.log.WithField("reason", s).Warn("optional probe left out")
		}
	}
	if plan.Mode == probes.ModeKprobe && !events {
		n, err := removeStaleKprobeEvents(t.host, procRoot, selfPIDNamespace())
		if err != nil {
			t.log.WithError(err).Warn("removing kprobe events left by earlier runs")
		} else if n > 0 {
			t.log.WithField("events", n).Info("removed kprobe events left by earlier runs that were killed")
		}
	}
	for i, a := range plan.Attachments() {
		if _, h, _ := probes.Lookup(a.Role); (h.Side == probes.Event) != events {
			continue
		}
		prog, err := t.mod.GetProgram(a.Program)
		if err != nil {
			return fmt.Errorf("finding program %s: %w", a.Program, err)
		}
		var l *bpf.BPFLink
		var ev *kprobeEvent
		switch a.Spec.Kind {
		case probes.Kprobe, probes.Kretprobe:
			l, ev, err = attachKprobeEvent(t.host, prog, a.Spec.Symbol, a.Spec.Kind == probes.Kretprobe, i)
		case probes.Tracepoint:
			l, err = prog.AttachTracepoint(a.Spec.Category, a.Spec.Name)
		case probes.RawTracepoint:
			l, err = prog.AttachRawTracepoint(a.Spec.Name)
		default:
			err = fmt.Errorf("unknown probe kind %q", a.Spec.Kind)
		}
		if err != nil {
			if inner := errors.Unwrap(err); inner != nil {
				err = inner
			}
			err = fmt.Errorf("attaching %s to %s: %w", a.Role, a.Spec, err)
			if a.Required {
				return err
			}
			t.log.WithError(err).Warn("optional probe not attached")
			t.notAttached = append(t.notAttached, string(a.Role))
			continue
		}
		t.links = append(t.links, &link{Attachment: a, BPFLink: l, event: ev})
		t.log.WithFields(logrus.Fields{"role": a.Role, "probe": a.Spec.String(), "program": a.Program}).Debug("probe attached")
	}
	return nil
}

// Attached says how many probes of the plan are attached, and the roles
// of the optional ones that are not.
func (t *Tracer) Attached() (int, []string) { return len(t.links), slices.Clone(t.notAttached) }

// EventsMapFD is the ring buffer map's file descriptor, for its reader.
func (t *Tracer) EventsMapFD() int {
	m, err := t.bpfMap(bpfobj.MapEvents)
	if err != nil {
		return -1
	}
	return m.FileDescriptor()
}

// Detach destroys every link, so no program fires any more, after reading
// what the kernel counted on them. Calling it again does nothing.
func (t *Tracer) Detach() {
	if len(t.links) > 0 {
		t.kprobeMissedN, t.kprobeMissedKnown = t.kprobeMissed()
		t.runsSkippedN = t.runsSkipped()
	}
	t.mu.Lock()
	uprobes := t.uprobes
	t.uprobes, t.detached = nil, true
	t.mu.Unlock()
	for _, l := range append(uprobes, t.links...) {
		if err := l.Destroy(); err != nil {
			t.log.WithError(err).WithField("probe", l.Spec.String()).Warn("detaching probe")
		}
		if l.event != nil {
			if err := l.event.remove(); err != nil {
				t.log.WithError(err).WithField("probe", l.Spec.String()).Warn("removing the kprobe event")
			}
		}
	}
	t.links = nil
}

// Close detaches and frees everything, the ring buffer included.
func (t *Tracer) Close() {
	t.Detach()
	t.mod.Close()
}

// bpfMap finds one of the object's maps by name.
func (t *Tracer) bpfMap(name string) (*bpf.BPFMap, error) {
	m, err := t.mod.GetMap(name)
	if err != nil {
		return nil, fmt.Errorf("finding map %s: %w", name, err)
	}
	return m, nil
}

// AttachUprobe attaches program prog to the function at offset in the
// file at path, at its entry or (ret) its return, in process pid, or (pid
// -1) in every process that maps the file, the programs choosing the
// traced ones. A process's probes fire in each of its threads, and stay
// across an exec for files the new image maps. It stays until the tracer
// detaches, or until detach is called.
func (t *Tracer) AttachUprobe(prog, path string, offset uint64, ret bool, pid int) (detach func() error, err error) {
	p, err := t.mod.GetProgram(prog)
	if err != nil {
		return nil, fmt.Errorf("finding program %s: %w", prog, err)
	}
	if offset > math.MaxUint32 {
		return nil, fmt.Errorf("offset %#x in %s is past 4 GiB", offset, path)
	}
	kind := probes.KindUprobe
	attach := p.AttachUprobe
	if ret {
		kind, attach = probes.KindUretprobe, p.AttachURetprobe
	}
	l, err := attach(pid, path, uint32(offset))
	if err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return nil, fmt.Errorf("attaching %s to %s at %#x for pid %d: %w", prog, path, offset, pid, err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.detached {
		_ = l.Destroy()
		return nil, fmt.Errorf("attaching %s to %s: the tracer is detached", prog, path)
	}
	ln := &link{Attachment: probes.Attachment{Row: "tls", Program: prog,
		Spec: probes.Spec{Kind: kind, Symbol: fmt.Sprintf("%s:%#x", path, offset)}}, BPFLink: l}
	t.uprobes = append(t.uprobes, ln)
	if !slices.Contains(t.uprobePrograms, prog) {
		t.uprobePrograms = append(t.uprobePrograms, prog)
	}
	return func() error {
		t.mu.Lock()
		defer t.mu.Unlock()
		i := slices.Index(t.uprobes, ln)
		if i < 0 {
			return nil // detached with the rest already
		}
		t.uprobes = slices.Delete(t.uprobes, i, i+1)
		return ln.Destroy()
	}, nil
}
