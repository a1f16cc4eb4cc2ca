package runner

import (
	"errors"
	"fmt"
	"io"
	"syscall"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/kernel"
	"github.com/httptrace/httptrace/pkg/preflight"
	"github.com/httptrace/httptrace/pkg/probes"
	"github.com/httptrace/httptrace/pkg/tracer"
)

// Doctor runs every check of preflight and then, when none failed and
// tracefs is there, does what a start-up does: chooses the attach mode
// (auto), loads the programs and attaches them, tracing no process, and
// detaches them again. Of the host it changes nothing: tracefs is not
// mounted; only on kernels before 5.11 is its own RLIMIT_MEMLOCK raised.
func Doctor() []preflight.Result {
	results := preflight.Doctor(preflight.DefaultSystem)
	return append(results, loadCheck(results))
}

func loadCheck(before []preflight.Result) preflight.Result {
	const name = "bpf"
	notTried := func(why string) preflight.Result {
		return preflight.Result{Check: name, Status: preflight.Warn, Detail: "programs not loaded: " + why, Fix: "see " + why}
	}
	if failed := preflight.Failed(before); len(failed) > 0 {
		return notTried(failed[0])
	}
	for _, r := range before {
		if r.Check == "tracefs" && r.Status != preflight.OK {
			return notTried("tracefs")
		}
	}
	filtered := preflight.DefaultSystem.Seccomp().Status != preflight.OK
	fail := func(err error) preflight.Result {
		fix := "run httptrace --verbose for libbpf's messages"
		if filtered && errors.Is(err, syscall.EPERM) {
			fix = "the seccomp filter refused it: " + preflight.SeccompUnconfined
		}
		return preflight.Result{Check: name, Status: preflight.Fail, Detail: err.Error(), Fix: fix}
	}
	if _, err := preflight.Memlock(kernel.DefaultHost.Release); err != nil {
		return fail(err)
	}
	cfg := config.Default()
	plan, _, err := probes.Choose(kernel.DefaultHost, cfg.Attach, cfg.Probes)
	if err != nil {
		return fail(err)
	}
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	tr, err := tracer.Open(tracer.Options{CaptureBytes: cfg.CaptureBytes, TLS: cfg.TLS, Plan: plan, Log: quiet})
	if err != nil {
		return fail(err)
	}
	tr.Close()
	return preflight.Result{Check: name, Status: preflight.OK,
		Detail: fmt.Sprintf("%s mode: the programs load, and their %d probes attach", plan.Mode, len(plan.Attachments()))}
}
