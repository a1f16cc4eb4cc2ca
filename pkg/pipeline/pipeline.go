// Package pipeline moves records from the kernel to the sinks in batches:
// ring buffer -> decoder -> exchange tracker -> redaction -> sinks, in one
// goroutine with no hand-off per record.
package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/httptrace/httptrace/pkg/container"
	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/exchange"
	"github.com/httptrace/httptrace/pkg/filter"
	"github.com/httptrace/httptrace/pkg/output"
	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/redact"
)

// PollInterval bounds how long a record waits in the ring buffer: the
// programs wake user space only when the ring fills, so it also polls.
const PollInterval = 100 * time.Millisecond

// Source is where raw records come from: the ring buffer reader.
type Source interface {
	Wait(timeout time.Duration) error
	Read(fn func(rec []byte)) (int, error)
	Wake() error
}

// Options wire the stages together.
type Options struct {
	Source   Source
	Exchange exchange.Options
	Redactor *redact.Redactor // nil: nothing redacted
	// Filter chooses the exchanges written to Sinks (nil or empty: all).
	// Stages before it, and their counts, see every exchange.
	Filter *filter.Filter
	Sinks  []output.Sink
	// Observers see every exchange before the filter and redaction (the
	// aggregation behind metrics: a filter chooses what is logged, not
	// what is measured). They keep no secret: a route drops the query.
	Observers []output.Sink
	Procs     *Procs
	// OnListen is told of a process traced because it began to serve a
	// selected port (its children from before are not traced yet).
	OnListen func(pid uint32)
	// Libraries is told of traced processes whose libraries may have
	// changed (libprobe.Prober); nil when no library is probed.
	Libraries Libraries
	// Containers labels each exchange with its process's container and
	// pod, before every observer and sink; nil: no labels.
	Containers *container.Resolver
	Log        logrus.FieldLogger
}

// Libraries follows the TLS libraries of traced processes. Times are on
// the records' clock.
type Libraries interface {
	// Exec: the process exec'd, or began to be traced at a listen.
	Exec(pid int)
	// Mapped: the process mapped a TLS library at at.
	Mapped(pid int, at time.Duration)
	// Forked: the process is a traced process's new child, since at.
	Forked(pid int, at time.Duration)
	// Exited: the process is gone.
	Exited(pid int)
}

// Stats are the pipeline's own counts.
type Stats struct {
	Records      uint64 // raw records read
	DecodeErrors uint64 // records that did not decode
	SinkErrors   uint64 // writes a sink refused
	FilteredOut  uint64 // exchanges the filter left out
}

// Pipeline is one run's stages.
type Pipeline struct {
	opts    Options
	tracker *exchange.Tracker
	stats   Stats
	sinkErr error
	// tickedNs is when the tracker's timers last ran: once per PollInterval,
	// however often batches come.
	tickedNs uint64

	// Reused for every record: decoding allocates nothing.
	data  event.Data
	close event.Close
	proc  event.Proc
}

// New builds the stages.
func New(opts Options) *Pipeline {
	if opts.Filter != nil && opts.Filter.Empty() {
		opts.Filter = nil
	}
	p := &Pipeline{opts: opts}
	p.tracker = exchange.New(opts.Exchange, p.emit)
	return p
}

// Tracker is the exchange stage, for hints and stats.
func (p *Pipeline) Tracker() *exchange.Tracker { return p.tracker }

// Stats returns the pipeline's counts.
func (p *Pipeline) Stats() Stats { return p.stats }

// StopReason says why Run returned.
type StopReason string

// The reasons Run returns.
const (
	StopContext StopReason = "stopped"                         // ctx was cancelled
	StopExited  StopReason = "every traced process has exited" // nothing left to trace
)

// Run moves batches until ctx is done or no traced process is left (when
// Procs says to stop then). A sink that fails ends the run with its error.
func (p *Pipeline) Run(ctx context.Context) (StopReason, error) {
	stopWake := context.AfterFunc(ctx, func() { _ = p.opts.Source.Wake() })
	defer stopWake()
	for {
		if ctx.Err() != nil {
			return StopContext, nil
		}
		if err := p.opts.Source.Wait(PollInterval); err != nil {
			return StopContext, fmt.Errorf("waiting for records: %w", err)
		}
		if err := p.batch(); err != nil {
			return StopContext, err
		}
		if p.opts.Procs != nil && p.opts.Procs.Done(MonotonicNow()) {
			return StopExited, nil
		}
	}
}

// Finish reads what is left after the probes are detached, logs every
// request still waiting as incomplete, and flushes the sinks.
func (p *Pipeline) Finish() error {
	if err := p.batch(); err != nil {
		return err
	}
	p.tracker.Flush(MonotonicNow())
	return p.flush()
}

// batch reads every record in the ring, then runs the timers and flushes.
func (p *Pipeline) batch() error {
	n, err := p.opts.Source.Read(p.handle)
	p.stats.Records += uint64(n)
	if err != nil {
		return fmt.Errorf("reading records: %w", err)
	}
	if now := MonotonicNow(); now-p.tickedNs >= uint64(PollInterval) {
		p.tickedNs = now
		p.tracker.Tick(now)
	}
	return p.flush()
}

// handle decodes one record and hands it to its stage.
func (p *Pipeline) handle(raw []byte) {
	kind, err := event.RecordKind(raw)
	if err == nil {
		switch kind {
		case event.KindData:
			if err = event.DecodeData(raw, &p.data); err == nil {
				p.tracker.Data(&p.data)
			}
		case event.KindClose:
			if err = event.DecodeClose(raw, &p.close); err == nil {
				p.tracker.Close(&p.close)
			}
		case event.KindProc:
			if err = event.DecodeProc(raw, &p.proc); err == nil {
				p.onProc(&p.proc)
			}
		default:
			err = fmt.Errorf("record of unknown kind %d", kind)
		}
	}
	if err != nil {
		p.stats.DecodeErrors++
		p.opts.Log.WithError(err).Debug("undecodable record")
	}
}

// onProc keeps the set of traced processes and ends their connections.
func (p *Pipeline) onProc(ev *event.Proc) {
	comm := event.CommString(&ev.Comm)
	log := p.opts.Log.WithFields(logrus.Fields{"pid": ev.PID, "comm": comm})
	libs := p.opts.Libraries
	switch ev.Op {
	case event.ProcFork:
		log.WithField("parent", ev.PPID).Debug("traced process forked")
		p.seen(ev.PID, ev.TimestampNs)
		if libs != nil {
			libs.Forked(int(ev.PID), time.Duration(ev.TimestampNs))
		}
	case event.ProcExec:
		log.Debug("traced process exec'd")
		if p.opts.Containers != nil {
			p.opts.Containers.Forget(ev.PID) // a runtime's exec joins the container before it execs
		}
		p.seen(ev.PID, ev.TimestampNs)
		if libs != nil {
			libs.Exec(int(ev.PID))
		}
	case event.ProcListen:
		log.Info("process serves a selected port: traced")
		p.seen(ev.PID, ev.TimestampNs)
		if p.opts.OnListen != nil {
			p.opts.OnListen(ev.PID)
		}
		if libs != nil {
			libs.Exec(int(ev.PID))
		}
	case event.ProcTLSMap:
		log.Debug("traced process mapped a TLS library")
		if libs != nil {
			libs.Mapped(int(ev.PID), time.Duration(ev.TimestampNs))
		}
	case event.ProcExit:
		log.Info("traced process exited")
		// Its last exchanges are emitted now, labelled from what was read
		// while it lived; then its PID is free for another process.
		p.tracker.ProcExit(ev.PID, ev.TimestampNs)
		if p.opts.Containers != nil {
			p.opts.Containers.Forget(ev.PID)
		}
		if libs != nil {
			libs.Exited(int(ev.PID))
		}
	}
	if p.opts.Procs != nil {
		p.opts.Procs.Apply(ev)
	}
}

// seen reads where a traced process runs while it is there to be read: its
// exchanges may end after it has exited.
func (p *Pipeline) seen(pid uint32, at uint64) {
	if p.opts.Containers != nil {
		p.opts.Containers.Lookup(pid, time.Duration(at))
	}
}

// emit is the tracker's output: filter, redact once, then every sink.
func (p *Pipeline) emit(e *record.Exchange) {
	if r := p.opts.Containers; r != nil {
		// The exchange's latest time is the clock: no clock read per label.
		c := r.Lookup(e.PID, time.Duration(max(e.RequestStartNs, e.RequestEndNs, e.ResponseStartNs, e.ResponseEndNs)))
		e.ContainerID, e.ContainerName, e.ContainerPID, e.PodUID = c.ID, c.Name, c.PID, c.PodUID
		e.K8sPod, e.K8sNamespace = c.Pod, c.Namespace
	}
	for _, s := range p.opts.Observers {
		p.write(s, e)
	}
	if p.opts.Filter != nil && !p.opts.Filter.Match(e) {
		p.stats.FilteredOut++
		return
	}
	if p.opts.Redactor != nil {
		p.opts.Redactor.Apply(e)
	}
	for _, s := range p.opts.Sinks {
		p.write(s, e)
	}
}

// write hands e to sink s, counting a failure.
func (p *Pipeline) write(s output.Sink, e *record.Exchange) {
	if err := s.Write(e); err != nil {
		p.stats.SinkErrors++
		if p.sinkErr == nil {
			p.sinkErr = err
		}
	}
}

// flush writes out what the sinks buffered in this batch.
func (p *Pipeline) flush() error {
	for _, s := range p.opts.Sinks {
		if err := s.Flush(); err != nil && p.sinkErr == nil {
			p.sinkErr = err
		}
	}
	if p.sinkErr != nil {
		return fmt.Errorf("writing records: %w", p.sinkErr)
	}
	return nil
}

// MonotonicNow is CLOCK_MONOTONIC, the clock of bpf_ktime_get_ns.
func MonotonicNow() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano())
}
