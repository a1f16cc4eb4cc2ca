package runner

import (
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/kernel"
	"github.com/httptrace/httptrace/pkg/preflight"
	"github.com/httptrace/httptrace/pkg/probes"
)

// SetupError is a start-up check that failed before anything was loaded:
// privileges, the kernel, tracefs, the PIDs or the probes asked for. It is
// the user's to fix, and main exits with the usage status for it.
type SetupError struct{ Err error }

func (e *SetupError) Error() string { return e.Err.Error() }

// Unwrap returns the failed check's error.
func (e *SetupError) Unwrap() error { return e.Err }

// prepare runs the start-up checks and chooses the probes. The checks are
// httptrace doctor's: failed ones stop the start, named.
func prepare(cfg config.Config, log *logrus.Logger) (probes.Plan, error) {
	results := preflight.Doctor(preflight.DefaultSystem)
	if failed := preflight.Failed(results); len(failed) > 0 {
		return probes.Plan{}, checkError(results, failed)
	}
	for _, r := range results {
		if r.Status != preflight.Warn {
			continue
		}
		entry := log.WithFields(logrus.Fields{"check": r.Check, "fix": r.Fix})
		if lessTraced[r.Check] {
			entry.Warn(r.Detail)
		} else {
			entry.Debug(r.Detail)
		}
	}
	if err := preflight.PIDs(cfg.PIDs); err != nil {
		return probes.Plan{}, err
	}
	mounted, err := preflight.Tracefs()
	if err != nil {
		return probes.Plan{}, err
	}
	if mounted {
		log.WithField("path", kernel.DefaultHost.Tracefs).Info("mounted tracefs")
	}
	release := kernel.DefaultHost.Release
	raised, err := preflight.Memlock(release)
	if err != nil {
		return probes.Plan{}, err
	}
	if raised {
		log.WithField("kernel", release).Debug("raised RLIMIT_MEMLOCK")
	}
	plan, why, err := probes.Choose(kernel.DefaultHost, cfg.Attach, cfg.Probes)
	if err != nil {
		return probes.Plan{}, err
	}
	log.WithFields(logrus.Fields{"requested": cfg.Attach, "mode": plan.Mode, "reason": why, "kernel": release}).Info("attach mode chosen")
	return plan, nil
}

// lessTraced are the checks whose warning means less is traced (HTTPS, or
// other users' processes) or an untested kernel: said at start-up. The
// others' (tracefs to be mounted, no kprobes: tracepoints instead) are
// details.
var lessTraced = map[string]bool{"kernel": true, "uprobes": true, "CAP_SYS_PTRACE": true, "CAP_DAC_READ_SEARCH": true, "memlock": true}

// CheckError is a start-up stopped by failed checks.
type CheckError struct {
	First  preflight.Result
	Others []string // the other failed checks' names
}

// Error says the first failed check, what was found and what to do, and
// names the others, on one line.
func (e *CheckError) Error() string {
	msg := e.First.Check + ": " + e.First.Detail
	if e.First.Fix != "" {
		msg += "; fix: " + e.First.Fix
	}
	if len(e.Others) > 0 {
		msg += "; also failed: " + strings.Join(e.Others, ", ") + " (httptrace doctor says more)"
	}
	return msg
}

func checkError(results []preflight.Result, failed []string) error {
	for _, r := range results {
		if r.Check == failed[0] {
			return &CheckError{First: r, Others: failed[1:]}
		}
	}
	return &CheckError{First: preflight.Result{Check: failed[0]}, Others: failed[1:]}
}
