// Package tracer loads the BPF programs, attaches them by the probe table,
// and turns what they send into decoded events.
package tracer

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	bpf "github.com/aquasecurity/libbpfgo"
	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/bpfobj"
	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/probes"
)

// Options say what to trace and how.
type Options struct {
	PIDs         []int
	CaptureBytes int
	Plan         probes.Plan
	Log          logrus.FieldLogger
}

// perfPagesPerCPU sizes the perf buffer: 128 pages (512 KiB) per CPU holds
// about sixty full 8 KiB captures per CPU between two polls.
const perfPagesPerCPU = 128

// pollTimeout is how long one poll of the perf buffer may block.
const pollTimeout = 100 * time.Millisecond

// Tracer is a loaded and attached BPF object.
type Tracer struct {
	mod    *bpfobj.Module
	links  []*link
	perf   *bpf.PerfBuffer
	events chan []byte
	lost   chan uint64
	log    logrus.FieldLogger

	lostEvents   atomic.Uint64
	decodeErrors atomic.Uint64
	// What the kernel said the kprobes missed, read just before detaching.
	kprobeMissedN     uint64
	kprobeMissedKnown bool
}

// link is one attached program.
type link struct {
	probes.Attachment
	*bpf.BPFLink
}

// Open loads the object with the capture size set, marks the PIDs as
// tracked, and attaches every program of the plan.
func Open(opts Options) (*Tracer, error) {
	routeLibbpfLog(opts.Log)
	mod, err := bpfobj.Open()
	if err != nil {
		return nil, err
	}
	t := &Tracer{mod: mod, log: opts.Log}
	if err := t.load(opts); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (t *Tracer) load(opts Options) error {
	// Settings reach the programs as read-only globals, before load.
	if err := t.mod.InitGlobalVariable("capture_bytes", uint32(opts.CaptureBytes)); err != nil {
		return fmt.Errorf("setting capture_bytes: %w", err)
	}
	// Only the programs of the chosen mode are loaded.
	want := map[string]bool{}
	for _, a := range opts.Plan.Attachments() {
		want[a.Program] = true
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
	if err := t.mod.BPFLoadObject(); err != nil {
		return fmt.Errorf("loading BPF programs: %w", err)
	}
	if err := t.trackPIDs(opts.PIDs); err != nil {
		return err
	}
	t.events = make(chan []byte, 4096)
	t.lost = make(chan uint64, 64)
	perf, err := t.mod.InitPerfBuf("events", t.events, t.lost, perfPagesPerCPU)
	if err != nil {
		return fmt.Errorf("creating perf buffer: %w", err)
	}
	t.perf = perf
	return t.attach(opts.Plan)
}

// trackPIDs fills the tracked_pids map.
func (t *Tracer) trackPIDs(pids []int) error {
	m, err := t.mod.GetMap("tracked_pids")
	if err != nil {
		return fmt.Errorf("finding map tracked_pids: %w", err)
	}
	one := uint8(1)
	for _, pid := range pids {
		key := uint32(pid)
		if err := m.Update(unsafe.Pointer(&key), unsafe.Pointer(&one)); err != nil {
			return fmt.Errorf("tracking PID %d: %w", pid, err)
		}
	}
	return nil
}

// attach attaches every program at its spec. A required role that fails is
// an error; an optional one is logged and skipped.
func (t *Tracer) attach(plan probes.Plan) error {
	for _, a := range plan.Attachments() {
		prog, err := t.mod.GetProgram(a.Program)
		if err != nil {
			return fmt.Errorf("finding program %s: %w", a.Program, err)
		}
		var l *bpf.BPFLink
		switch a.Spec.Kind {
		case probes.Kprobe:
			l, err = prog.AttachKprobe(a.Spec.Symbol)
		case probes.Kretprobe:
			l, err = prog.AttachKretprobe(a.Spec.Symbol)
		case probes.Tracepoint:
			l, err = prog.AttachTracepoint(a.Spec.Category, a.Spec.Name)
		default:
			err = fmt.Errorf("unknown probe kind %q", a.Spec.Kind)
		}
		if err != nil {
			err = fmt.Errorf("attaching %s to %s: %w", a.Role, a.Spec, errors.Unwrap(err))
			if a.Required {
				return err
			}
			t.log.WithError(err).Warn("optional probe not attached")
			continue
		}
		t.links = append(t.links, &link{Attachment: a, BPFLink: l})
		t.log.WithFields(logrus.Fields{"role": a.Role, "probe": a.Spec.String(), "program": a.Program}).Debug("probe attached")
	}
	return nil
}

// Run polls the perf buffer and calls handle for each decoded event until
// ctx is done. It then detaches, drains what is left, and returns.
func (t *Tracer) Run(ctx context.Context, handle func(event.Event)) {
	t.perf.Poll(int(pollTimeout / time.Millisecond))
	done := ctx.Done()
	for {
		select {
		case raw, ok := <-t.events:
			if !ok {
				return
			}
			t.deliver(raw, handle)
		case n, ok := <-t.lost:
			if ok {
				t.lostEvents.Add(n)
				t.log.WithField("lost", n).Warn("perf buffer overflowed: events lost")
			}
		case <-done:
			done = nil
			t.detach()
			// Let the poller hand over what the kernel wrote before detaching.
			time.AfterFunc(3*pollTimeout, t.perf.Stop)
		}
	}
}

func (t *Tracer) deliver(raw []byte, handle func(event.Event)) {
	ev, err := event.Decode(raw)
	if err != nil {
		t.decodeErrors.Add(1)
		t.log.WithError(err).Warn("undecodable event")
		return
	}
	handle(ev)
}

// detach destroys every link, so no program fires any more, after reading
// what the kernel counted on them.
func (t *Tracer) detach() {
	if len(t.links) > 0 {
		t.kprobeMissedN, t.kprobeMissedKnown = t.kprobeMissed()
	}
	for _, l := range t.links {
		if err := l.Destroy(); err != nil {
			t.log.WithError(err).WithField("probe", l.Spec.String()).Warn("detaching probe")
		}
	}
	t.links = nil
}

// Counters are the tracer's own counts, the programs' stats map, and what
// the kernel counted on the kprobes.
type Counters struct {
	LostEvents   uint64 // perf buffer overflowed
	DecodeErrors uint64
	BPF          [event.StatCount]uint64
	// KprobeMissed is the kernel's count of kprobe and kretprobe misses
	// (Linux 6.7 and later, kprobe mode); KprobeMissedKnown says whether
	// the kernel gave one.
	KprobeMissed      uint64
	KprobeMissedKnown bool
}

// Counters reads the current counts; the kernel's kprobe counts are those
// read when the probes were detached, or now while they are attached.
func (t *Tracer) Counters() (Counters, error) {
	c := Counters{LostEvents: t.lostEvents.Load(), DecodeErrors: t.decodeErrors.Load(),
		KprobeMissed: t.kprobeMissedN, KprobeMissedKnown: t.kprobeMissedKnown}
	if len(t.links) > 0 {
		c.KprobeMissed, c.KprobeMissedKnown = t.kprobeMissed()
	}
	m, err := t.mod.GetMap("stats")
	if err != nil {
		return c, fmt.Errorf("finding map stats: %w", err)
	}
	for i := range c.BPF {
		key := uint32(i)
		raw, err := m.GetValue(unsafe.Pointer(&key))
		if err != nil {
			return c, fmt.Errorf("reading stat %s: %w", event.StatNames[i], err)
		}
		// A per-CPU value: one u64 a CPU, summed.
		for off := 0; off+8 <= len(raw); off += 8 {
			c.BPF[i] += *(*uint64)(unsafe.Pointer(&raw[off]))
		}
	}
	return c, nil
}

// Close detaches and frees everything.
func (t *Tracer) Close() {
	t.detach()
	t.mod.Close()
}
