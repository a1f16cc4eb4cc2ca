// The six setups measured per server, and one measured run of a setup.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Setup keys, in report order.
const (
	setupUntraced = "untraced"
	setupFloor    = "floor"
	setupBpftrace = "bpftrace"
	setupText     = "httptrace-text"
	setupJSON     = "httptrace-json"
	// setupMetrics is text output plus the Prometheus endpoint, scraped
	// once a second as a Prometheus server would.
	setupMetrics = "httptrace-metrics"
	// setupOTLP is every export at once: text output, the Prometheus
	// endpoint (scraped as setupMetrics's), and spans and metrics over
	// OTLP (http/protobuf, the metrics once a second) to a local Jaeger.
	setupOTLP = "httptrace-otlp"
)

// setupKeys lists every setup; a round runs each once per server.
var setupKeys = []string{setupUntraced, setupFloor, setupBpftrace, setupText, setupJSON, setupMetrics, setupOTLP}

// scrapeEvery is how often the metrics setup's endpoint is read.
const scrapeEvery = time.Second

// attachMode is the only mode the benchmark machines have (no kprobes).
const attachMode = "tracepoint"

// tracerStats is what a traced run measured of its tracer.
type tracerStats struct {
	Logged     int64      // records in the tracer's output (bpftrace: its requests)
	Events     int64      // bpftrace: every event it printed, requests and responses
	Summary    *summary   // httptrace's closing summary; nil for bpftrace
	EventsLost int64      // from the summary, or bpftrace's "Lost N events"
	CPUTicks   int64      // utime+stime over the wrk run, userHZ ticks
	PeakRSSKiB int64      // VmHWM when the run ended
	Progs      []progStat // BPF programs the tracer held, stats since load
	// OTLP: the run exported over OTLP; Spans is what Jaeger took.
	OTLP  bool
	Spans int64
}

// runResult is one setup measured once against one server.
type runResult struct {
	Server string
	Setup  string
	Round  int
	Fixed  bool // at the fixed rate, not at saturation
	Wrk    wrkResult
	Busy   int64        // ticks all CPUs were busy over the wrk run
	Tracer *tracerStats // nil when untraced
	Err    error        // the setup could not run, or its output was unparsable
}

// tracerRun is a started tracer and how to read it back.
type tracerRun struct {
	proc     *child
	bpftrace bool
	json     bool
	scraper  *scraper // the metrics setup's
	jaeger   *jaeger  // the OTLP setup's
}

// measure runs one setup: start its tracer (if any), load the server with
// wrk, sample the tracer, stop it and read its output.
func measure(c config, srv *server, setup string, round int, dir string, idlePID int, l load) runResult {
	r := runResult{Server: srv.name, Setup: setup, Round: round, Fixed: l.fixed}
	var tr *tracerRun
	if setup != setupUntraced {
		var err error
		if tr, err = startTracer(c, srv.proc.pid(), setup, dir, idlePID); err != nil {
			r.Err = err
			return r
		}
	}
	var before int64
	if tr != nil {
		before, _ = cpuTicks(tr.proc.pid())
	}
	r.Wrk, r.Busy, r.Err = runLoad(c, srv, l)
	if tr == nil {
		return r
	}
	time.Sleep(c.settle)
	stats, err := finishTracer(tr, before)
	r.Tracer = stats
	if r.Err == nil {
		r.Err = err
	}
	if r.Err == nil {
		// Counted: remove the records (hundreds of MB) before the kernel
		// writes them back, which it would do during a later setup's run.
		if err := os.Remove(tr.proc.stdout); err != nil {
			r.Err = fmt.Errorf("removing records: %w", err)
		}
	}
	return r
}

// startTracer starts the setup's tracer and waits until its probes are live.
func startTracer(c config, serverPID int, setup, dir string, idlePID int) (*tracerRun, error) {
	base := filepath.Join(dir, setup)
	pid, useBpftrace, format := serverPID, false, "text"
	var extra, env []string
	metricsAddr := ""
	var jg *jaeger
	switch setup {
	case setupOTLP:
		var err error
		if jg, err = startJaeger(c.jaeger, dir); err != nil {
			return nil, err
		}
		env = []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + jg.endpoint(), "OTEL_METRIC_EXPORT_INTERVAL=1000"}
		if metricsAddr, err = freeAddr(); err != nil {
			jg.stop()
			return nil, err
		}
		extra = []string{"--metrics-addr", metricsAddr}
	case setupMetrics:
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		metricsAddr = addr
		extra = []string{"--metrics-addr", addr}
	case setupFloor:
		pid, useBpftrace = idlePID, c.floor == floorBpftrace
	case setupBpftrace:
		useBpftrace = true
	case setupJSON:
		format = "json"
	}
	if useBpftrace {
		return startBpftrace(c, pid, base)
	}
	argv := append([]string{c.tool, "--pid", strconv.Itoa(pid), "--attach", attachMode, "--log-format", format}, extra...)
	p, err := startChildEnv(base+".out", base+".err", env, argv...)
	if err != nil {
		if jg != nil {
			jg.stop()
		}
		return nil, err
	}
	track(p) // an interrupt ends it
	tr := &tracerRun{proc: p, json: format == "json", jaeger: jg}
	err = p.waitFor(base+".err", func(b []byte) bool {
		return bytes.Contains(b, []byte("probes attached"))
	}, 60*time.Second, `"probes attached"`)
	if err != nil {
		p.stop(syscall.SIGKILL, 5*time.Second)
		if jg != nil {
			jg.stop()
		}
		return nil, err
	}
	if metricsAddr != "" {
		tr.scraper = startScraper("http://"+metricsAddr+"/metrics", scrapeEvery)
	}
	return tr, nil
}

// startBpftrace generates httptrace's bpftrace program for pid and runs
// it; the program is live once bpftrace has attached and run BEGIN (whose
// output follows the "Attaching N probes..." line).
func startBpftrace(c config, pid int, base string) (*tracerRun, error) {
	prog, err := exec.Command(c.tool, "bpftrace", "--pid", strconv.Itoa(pid), "--attach", attachMode).Output()
	if err != nil {
		return nil, fmt.Errorf("%s bpftrace --pid %d: %w", c.tool, pid, err)
	}
	if err := os.WriteFile(base+".bt", prog, 0o644); err != nil {
		return nil, fmt.Errorf("writing program: %w", err)
	}
	p, err := startChild(base+".out", base+".err", "bpftrace", base+".bt")
	if err != nil {
		return nil, err
	}
	track(p) // an interrupt ends it
	hasBegin := bytes.Contains(prog, []byte("\nBEGIN"))
	err = p.waitFor(base+".out", func(b []byte) bool {
		_, after, ok := bytes.Cut(b, []byte("Attaching "))
		if !ok {
			return false
		}
		_, after, ok = bytes.Cut(after, []byte("\n"))
		return ok && (!hasBegin || len(bytes.TrimSpace(after)) > 0)
	}, 60*time.Second, "attached probes")
	if err != nil {
		p.stop(syscall.SIGKILL, 5*time.Second)
		return nil, err
	}
	return &tracerRun{proc: p, bpftrace: true}, nil
}

// finishTracer samples the tracer (CPU since before, peak RSS, BPF
// programs), stops it with SIGINT and reads what it wrote.
func finishTracer(tr *tracerRun, before int64) (*tracerStats, error) {
	pid := tr.proc.pid()
	s := &tracerStats{}
	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if tr.scraper != nil {
		note(tr.scraper.stop())
	}
	after, err := cpuTicks(pid)
	note(err)
	s.CPUTicks = after - before
	s.PeakRSSKiB, err = peakRSSKiB(pid)
	note(err)
	s.Progs, err = progStats(pid)
	note(err)
	if len(s.Progs) == 0 && err == nil {
		note(fmt.Errorf("tracer %d holds no BPF programs", pid))
	}
	note(tr.proc.stop(syscall.SIGINT, 20*time.Second))
	if tr.proc.waitErr != nil {
		note(fmt.Errorf("%s exited: %w: %s", tr.proc.cmd.Args[0], tr.proc.waitErr, tr.proc.tail()))
	}
	out, err := os.ReadFile(tr.proc.stdout)
	note(err)
	stderr, err := os.ReadFile(tr.proc.stderr)
	note(err)
	if tr.jaeger != nil {
		// After the tracer stopped: its last spans and metrics are in.
		s.OTLP = true
		s.Spans, err = tr.jaeger.stop()
		note(err)
	}
	if tr.bpftrace {
		s.Logged, s.Events = bpftraceLines(out)
		s.EventsLost = bpftraceLost(append(out, stderr...))
		return s, firstErr
	}
	s.Logged, err = countRecords(tr.proc.stdout, tr.json)
	note(err)
	sum, err := parseSummary(stderr)
	note(err)
	if err == nil {
		s.Summary = &sum
		s.EventsLost = sum.EventsLost
		if s.OTLP && (s.Spans != sum.ExportSpans || s.Spans == 0) {
			note(fmt.Errorf("jaeger took %d spans, the summary says %d exported", s.Spans, sum.ExportSpans))
		}
		if s.OTLP && sum.ExportMetrics == 0 {
			note(errors.New("the summary says no metrics were exported over OTLP"))
		}
	}
	return s, firstErr
}
