// Package runner is one tracing session: start-up checks, probe choice,
// the tracer, the pipeline, and the closing summary.
package runner

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/aggregate"
	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/container"
	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/exchange"
	"github.com/httptrace/httptrace/pkg/libprobe"
	"github.com/httptrace/httptrace/pkg/otlp"
	"github.com/httptrace/httptrace/pkg/output"
	"github.com/httptrace/httptrace/pkg/pipeline"
	"github.com/httptrace/httptrace/pkg/preflight"
	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/redact"
	"github.com/httptrace/httptrace/pkg/ringbuf"
	"github.com/httptrace/httptrace/pkg/tracer"
	"github.com/httptrace/httptrace/pkg/unixsock"
)

// Summary is what a session saw, logged when it ends.
type Summary struct {
	Exchange exchange.Stats
	Pipeline pipeline.Stats
	Counters tracer.Counters
	Mode     string
	// Legacy: the BPF object for kernels without bpf_loop was loaded.
	Legacy bool
	// Filtered: a filter chose the exchanges written (Pipeline.FilteredOut
	// counts the others).
	Filtered bool
	Duration time.Duration
	Reason   pipeline.StopReason
	// OutputWaits counts the times the output queue was full and the
	// pipeline waited for the output to take more.
	OutputWaits uint64
	// TLS is what the library prober did (zero when TLS is off).
	TLS libprobe.Stats
	// Spans is what the OTLP export of spans did, when SpansOn.
	Spans   otlp.Stats
	SpansOn bool
	// Metrics is what the OTLP export of metrics did, when MetricsOn.
	Metrics   otlp.MetricStats
	MetricsOn bool
}

// outputQueueBytes is how much output may wait for a slow stdout: with the
// 16 MiB ring buffer behind it, seconds of exchanges at full rate. It is
// memory only while the output is slow.
const outputQueueBytes = 32 << 20

// IO is where a session's output goes, and what it applies first.
type IO struct {
	Out      io.Writer        // exchanges
	Log      *logrus.Logger   // diagnostics
	Redactor *redact.Redactor // applied to every exchange before any sink
	// View, when set, shows the aggregation live (--top) from when the
	// probes are attached; the func it returns ends it, before the summary.
	View func(agg *aggregate.Aggregator) (stop func())
}

// Run traces until ctx is done or every traced process has exited, then
// logs a summary.
func Run(ctx context.Context, cfg config.Config, dst IO) (Summary, error) {
	log, out := dst.Log, dst.Out
	// The runtime that names the containers is asked first: nothing is
	// loaded, or said, for a selection that cannot work.
	var runtime container.Runtime
	if cfg.SelectsContainers() {
		rt, err := containerRuntime(ctx, cfg)
		if err != nil {
			return Summary{}, &SetupError{Err: fmt.Errorf("containers: %w", err)}
		}
		runtime = rt
		defer runtime.Close()
	} else if rt, err := namingRuntime(ctx, cfg, log); err == nil {
		runtime = rt
		defer runtime.Close()
	}
	plan, err := prepare(cfg, log)
	if err != nil {
		return Summary{}, &SetupError{Err: err}
	}
	server, client := portSides(cfg)
	allProcs := len(client) > 0 && len(cfg.PIDs) == 0 && len(cfg.Comms) == 0
	// Processes chosen by name, or any process (client ports alone), may
	// start later: their TLS libraries are probed for every process.
	// Otherwise each traced process gets its own probes, and an untraced
	// process sharing the library never stops at them.
	tlsScope := libprobe.PerProcess
	if len(cfg.Comms) > 0 || allProcs {
		tlsScope = libprobe.All
	}
	tr, err := tracer.Open(tracer.Options{PIDs: cfg.PIDs, Comms: cfg.Comms, CaptureBytes: cfg.CaptureBytes,
		NoUnix: !cfg.UnixSockets, TLS: cfg.TLS, Plan: plan, Log: log, ServerPorts: server, ClientPorts: client,
		AllProcesses: allProcs, WakeOnFork: cfg.TLS && tlsScope == libprobe.PerProcess, SelectCgroups: cfg.SelectsContainers()})
	if err != nil {
		if why := preflight.DefaultSystem.LoadRefusal(err); why != "" {
			err = &SetupError{Err: fmt.Errorf("%w; %s", err, why)}
		}
		return Summary{}, err
	}
	defer tr.Close()
	if len(server) > 0 && tr.Listeners() == 0 {
		log.WithField("ports", server).Info("nothing listens on these TCP ports yet: tracing whatever begins to serve them")
	}
	if _, ok := plan.Roles["listen_entry"]; len(server) > 0 && !ok {
		log.WithField("ports", server).Warn("the listen probe is left out: a process that begins to listen on these ports is found only when it accepts")
	}
	reader, err := ringbuf.NewReader(tr.EventsMapFD())
	if err != nil {
		return Summary{}, fmt.Errorf("mapping the ring buffer: %w", err)
	}
	defer reader.Close()

	clock := output.NewClock(time.Duration(pipeline.MonotonicNow()))
	// The sinks' buffers are written from a goroutine of their own: an
	// output that blocks does not keep the pipeline from the ring buffer.
	async := output.NewAsyncWriter(out, outputQueueBytes)
	out = async
	sink := output.NewText(out, clock)
	if cfg.LogFormat == config.FormatJSON {
		sink = output.NewJSON(out, clock)
	}
	exp, err := startExport(cfg, tr, clock, dst.View != nil, log)
	if err != nil {
		return Summary{}, &SetupError{Err: err}
	}
	defer exp.stop(log)
	defer exp.closeOTLP(log)
	containers := container.NewResolver("/proc")
	var libs *libprobe.Prober
	var tlsReady uint64
	var libWatch pipeline.Libraries
	if cfg.TLS {
		libs = libprobe.New(tr, log, "/proc", func() time.Duration { return time.Duration(pipeline.MonotonicNow()) }, tlsScope)
		// Processes yet to start: their libssl is most likely the host's.
		libs.ProbeHost()
		for _, pid := range tr.TrackedPIDs() {
			libs.Scan(pid)
		}
		tlsReady = pipeline.MonotonicNow()
		libCtx, stopLibs := context.WithCancel(ctx)
		go libs.Run(libCtx)
		defer func() { stopLibs(); libs.Wait() }()
		libWatch = libs
	}
	if runtime != nil {
		sel := &selector{rt: runtime, want: cfg.Containers, pods: cfg.Pods, tr: tr, labels: containers, log: log}
		if libs != nil {
			sel.probe = libs.Running
		}
		selCtx, stopSel := context.WithCancel(ctx)
		if err := sel.start(selCtx); err != nil {
			stopSel()
			if cfg.SelectsContainers() {
				return Summary{}, &SetupError{Err: fmt.Errorf("containers: %w", err)}
			}
			log.WithError(err).Warn("container runtime: containers are known by ID alone")
		} else {
			defer func() { stopSel(); sel.wait() }()
		}
	}
	procs := pipeline.NewProcs(tr.TrackedPIDs(), len(cfg.Comms) > 0 || len(cfg.Ports) > 0 || cfg.SelectsContainers())
	// Where each traced process runs is read while it is there to be read.
	for _, pid := range tr.TrackedPIDs() {
		containers.Lookup(uint32(pid), time.Duration(pipeline.MonotonicNow()))
	}
	p := pipeline.New(pipeline.Options{
		Source:     reader,
		Exchange:   exchangeOptions(cfg, tlsReady),
		Redactor:   dst.Redactor,
		Filter:     &cfg.Filter,
		Sinks:      append([]output.Sink{sink}, exp.sinks()...),
		Observers:  exp.observers(),
		Procs:      procs,
		Containers: containers,
		OnListen: func(pid uint32) {
			pids, err := tr.TrackChildren(int(pid), "/proc")
			if err != nil {
				log.WithError(err).WithField("pid", pid).Warn("tracking the children of a process that began to serve a selected port")
			}
			// Its children forked before (a cluster's workers) need their
			// own library probes: no fork record will come for them.
			for _, child := range pids {
				if libWatch != nil && child != int(pid) {
					libWatch.Exec(child)
				}
			}
		},
		Libraries: libWatch,
		Log:       log,
	})
	p.Tracker().SkipHint(func(conn, gen uint64, dir event.Direction, pos uint64) {
		if err := tr.SetSkip(conn, gen, dir, pos); err != nil {
			log.WithError(err).Debug("setting a skip hint")
		}
	})
	p.Tracker().MuteHint(func(conn, gen uint64) {
		if err := tr.Mute(conn, gen); err != nil {
			log.WithError(err).Debug("muting a connection")
		}
	})
	p.Tracker().SkipForget(func(conn uint64) {
		if err := tr.ClearSkips(conn); err != nil {
			log.WithError(err).Debug("clearing skip hints")
		}
	})
	attached := logrus.Fields{"mode": plan.Mode, "pids": cfg.PIDs, "processes": procs.Len(), "probes": len(plan.Attachments())}
	if len(cfg.Comms) > 0 {
		attached["comm"] = cfg.Comms
	}
	if len(cfg.Containers) > 0 {
		attached["containers"] = cfg.Containers
	}
	if len(cfg.Pods) > 0 {
		attached["pods"] = cfg.Pods
	}
	if len(server) > 0 {
		attached["ports"] = server
	}
	if len(client) > 0 {
		attached["remote_ports"] = client
	}
	if !cfg.Filter.Empty() {
		attached["filter"] = cfg.Filter.String()
	}
	log.WithFields(attached).Info("probes attached")

	stopView := func() {}
	if dst.View != nil {
		stopView = dst.View(exp.agg)
		defer stopView() // the terminal back, whatever happens (it is idempotent)
	}
	start := time.Now()
	reason, runErr := p.Run(ctx)
	stopView()
	progs := programStats(tr, log)
	exp.stop(log) // it reads the tracer's counters
	tr.Detach()
	if err := p.Finish(); err != nil && runErr == nil {
		runErr = err
	}
	exp.closeOTLP(log) // after the last exchange
	if err := async.Close(); err != nil && runErr == nil {
		runErr = fmt.Errorf("writing records: %w", err)
	}
	s := Summary{Exchange: p.Tracker().Stats(), Pipeline: p.Stats(), Mode: string(plan.Mode), Legacy: tr.Legacy(),
		Filtered: !cfg.Filter.Empty(),
		Duration: time.Since(start), Reason: reason, OutputWaits: async.Waits(), SpansOn: exp.spans != nil, MetricsOn: exp.otlpMetrics != nil}
	s.Spans, s.Metrics = exp.otlpStats()
	if libs != nil {
		s.TLS = libs.Stats()
	}
	if s.Counters, err = tr.Counters(); err != nil {
		log.WithError(err).Warn("reading counters")
	}
	logSummary(log, s)
	if len(server) > 0 && tr.Listeners() == 0 && s.Counters.BPF[event.StatPortListeners] == 0 {
		log.WithField("ports", server).Warn("no process served these TCP ports while httptrace ran")
	}
	logProgramStats(log, progs)
	return s, runErr
}

// exchangeOptions are the tracker's bounds with the configured limits.
func exchangeOptions(cfg config.Config, tlsReadyNs uint64) exchange.Options {
	o := exchange.DefaultOptions()
	o.MaxHeaderBytes = cfg.MaxHeaderBytes
	o.CaptureBodyBytes = cfg.CaptureBodyBytes
	o.ExchangeTimeout = cfg.ExchangeTimeout
	o.UnixPath = unixsock.NewPaths("/proc").Path
	o.TLSReadyNs = tlsReadyNs
	return o
}

// portSides splits the configured ports: remote ports of client
// connections when the filter's side is client, else ports that servers
// listen on.
func portSides(cfg config.Config) (server, client []int) {
	if cfg.Filter.Side == record.Client {
		return nil, cfg.Ports
	}
	return cfg.Ports, nil
}
