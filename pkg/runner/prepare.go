package runner

import (
	"errors"
	"fmt"

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
// httptrace doctor's: the first that fails stops the start, named.
func prepare(cfg config.Config, log *logrus.Logger) (probes.Plan, error) {
	for _, r := range preflight.Doctor(preflight.DefaultSystem) {
		switch r.Status {
		case preflight.Fail:
			return probes.Plan{}, checkError(r)
		case preflight.Warn:
			log.WithFields(logrus.Fields{"check": r.Check, "fix": r.Fix}).Debug(r.Detail)
		}
	}
	if err := preflight.PIDs(cfg.PIDs); err != nil {
		return probes.Plan{}, err
	}
	mounted, err := preflight.Tracefs()
	if err != nil {
		return probes.Plan{}, fmt.Errorf("tracefs: %w", err)
	}
	if mounted {
		log.WithField("path", kernel.DefaultHost.Tracefs).Info("mounted tracefs")
	}
	release := kernel.DefaultHost.Release
	raised, err := preflight.Memlock(release)
	if err != nil {
		return probes.Plan{}, fmt.Errorf("memlock: %w", err)
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

// checkError is a failed check as one line: its name, what was found and
// what to do.
func checkError(r preflight.Result) error {
	msg := r.Check + ": " + r.Detail
	if r.Fix != "" {
		msg += "; fix: " + r.Fix
	}
	return errors.New(msg)
}
