// Package runner is one tracing session: checks, probe choice, the event
// loop, and the closing summary.
package runner

import (
	"context"
	"fmt"
	"time"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/httpparse"
	"github.com/httptrace/httptrace/pkg/kernel"
	"github.com/httptrace/httptrace/pkg/output"
	"github.com/httptrace/httptrace/pkg/preflight"
	"github.com/httptrace/httptrace/pkg/probes"
	"github.com/httptrace/httptrace/pkg/tracer"
)

// Loggers are where things go: captured requests, and everything else.
type Loggers struct {
	Requests *logrus.Logger // stdout
	Diag     *logrus.Logger // stderr
}

// Summary is what a session saw, logged when it ends.
type Summary struct {
	Requests  uint64
	NotParsed uint64 // events the parser rejected
	Counters  tracer.Counters
	Mode      probes.Mode
	Duration  time.Duration
}

// Run traces until ctx is done, then logs a summary.
func Run(ctx context.Context, cfg config.Config, logs Loggers) (Summary, error) {
	log := logs.Diag
	plan, err := prepare(cfg, log)
	if err != nil {
		return Summary{}, err
	}
	tr, err := tracer.Open(tracer.Options{PIDs: cfg.PIDs, CaptureBytes: cfg.CaptureBytes, Plan: plan, Log: log})
	if err != nil {
		return Summary{}, err
	}
	defer tr.Close()
	log.WithFields(logrus.Fields{"mode": plan.Mode, "pids": cfg.PIDs, "probes": len(plan.Attachments())}).Info("probes attached")

	s := Summary{Mode: plan.Mode}
	start := time.Now()
	clock := output.NewClock(monotonicNow())
	tr.Run(ctx, func(ev event.Event) {
		req, err := httpparse.ParseRequest(ev.Data)
		if err != nil {
			s.NotParsed++
			log.WithError(err).WithFields(logrus.Fields{"pid": ev.PID, "fd": ev.FD}).Debug("captured bytes are not a request")
			return
		}
		s.Requests++
		output.Request(logs.Requests, clock, ev, req)
	})
	s.Duration = time.Since(start)
	s.Counters, err = tr.Counters()
	if err != nil {
		log.WithError(err).Warn("reading counters")
	}
	logSummary(log, s)
	return s, nil
}

// prepare runs the start-up checks and chooses the probes.
func prepare(cfg config.Config, log *logrus.Logger) (probes.Plan, error) {
	if err := preflight.Capabilities(); err != nil {
		return probes.Plan{}, err
	}
	if err := preflight.BTF(); err != nil {
		return probes.Plan{}, err
	}
	if err := preflight.PIDs(cfg.PIDs); err != nil {
		return probes.Plan{}, err
	}
	mounted, err := preflight.Tracefs()
	if err != nil {
		return probes.Plan{}, err
	}
	if mounted {
		log.WithField("path", preflight.TracefsDir).Info("mounted tracefs")
	}
	release := kernel.Release()
	raised, err := preflight.Memlock(release)
	if err != nil {
		return probes.Plan{}, err
	}
	if raised {
		log.WithField("kernel", release).Debug("raised RLIMIT_MEMLOCK")
	}
	plan, why, err := probes.DefaultHost.Choose(cfg.Attach, cfg.Probes)
	if err != nil {
		return probes.Plan{}, err
	}
	log.WithFields(logrus.Fields{"requested": cfg.Attach, "mode": plan.Mode, "reason": why, "kernel": release}).Info("attach mode chosen")
	return plan, nil
}

func logSummary(log *logrus.Logger, s Summary) {
	c := s.Counters
	f := logrus.Fields{
		"mode":          s.Mode,
		"duration":      s.Duration.Round(time.Millisecond).String(),
		"requests":      s.Requests,
		"not_parsed":    s.NotParsed,
		"lost_events":   c.LostEvents,
		"decode_errors": c.DecodeErrors,
	}
	for i, name := range event.StatNames {
		f[name] = c.BPF[i]
	}
	if c.KprobeMissedKnown {
		f["kprobe_missed"] = c.KprobeMissed
	}
	entry := log.WithFields(f)
	lost := c.LostEvents + c.BPF[event.StatEventsDropped]
	missed := c.BPF[event.StatReturnsMissed] + c.KprobeMissed
	switch {
	case lost > 0:
		entry.Warn(fmt.Sprintf("summary: %d requests, %d events lost", s.Requests, lost))
	case missed > 0:
		entry.Warn(fmt.Sprintf("summary: %d requests, %d probe hits missed (returns_missed, kprobe_missed)", s.Requests, missed))
	default:
		entry.Info(fmt.Sprintf("summary: %d requests, no events lost", s.Requests))
	}
}

func monotonicNow() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}
