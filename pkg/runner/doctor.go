package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/container"
	"github.com/httptrace/httptrace/pkg/kernel"
	"github.com/httptrace/httptrace/pkg/preflight"
	"github.com/httptrace/httptrace/pkg/probes"
	"github.com/httptrace/httptrace/pkg/tracer"
)

// Doctor runs every check of preflight and then, when none failed and
// tracefs can be read, does what a start-up with cfg does: chooses the
// attach mode, loads the programs and attaches them, tracing no process,
// and detaches them again. It leaves the host as it was: tracefs is not
// mounted; kprobe mode's events are made and removed (a signal meanwhile
// waits for that); only before 5.11 is its own RLIMIT_MEMLOCK raised.
func Doctor(cfg config.Config) []preflight.Result {
	results := preflight.Doctor(preflight.DefaultSystem)
	// Loading needs no runtime: its failure does not keep the programs
	// from being tried.
	load := loadCheck(cfg, results)
	return append(results, runtimeCheck(cfg), load)
}

// RuntimeCheck names the container runtime check.
const RuntimeCheck = "container_runtime"

// runtimeCheck says whether a container runtime answers, the one a
// start-up with cfg would ask: without one, --container NAME and --pod
// cannot work (Fail), and otherwise a process in a container is known by
// its container's ID alone (Warn).
func runtimeCheck(cfg config.Config) preflight.Result {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	rt, err := containerRuntime(ctx, cfg)
	if err == nil {
		defer rt.Close()
		kind := "Docker's API (podman, dockerd)"
		if _, ok := rt.(*container.Containerd); ok {
			kind = "containerd"
		}
		return preflight.Result{Check: RuntimeCheck, Status: preflight.OK,
			Detail: kind + " answers at " + rt.Socket() + ": containers and pods are known by name and labels"}
	}
	r := preflight.Result{Check: RuntimeCheck, Status: preflight.Warn, Detail: err.Error() + "; containers are known by ID alone",
		Fix: "mount the runtime's socket where httptrace runs (the DaemonSet mounts /run/containerd), or name it with --runtime-socket PATH (runtime_socket in YAML)"}
	if cfg.SelectsContainers() {
		r.Status, r.Detail = preflight.Fail, err.Error()+"; --container and --pod name containers through it"
	}
	return r
}

func loadCheck(cfg config.Config, before []preflight.Result) preflight.Result {
	const name = preflight.LoadCheck
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
	release := kernel.DefaultHost.Release
	fail := func(err error) preflight.Result {
		fix := preflight.DefaultSystem.LoadRefusal(err)
		if fix == "" {
			fix = "run httptrace --verbose for libbpf's messages"
		}
		return preflight.Result{Check: name, Status: preflight.Fail, Detail: err.Error(), Fix: fix}
	}
	if _, err := preflight.Memlock(release); err != nil {
		return fail(err)
	}
	plan, _, err := probes.Choose(kernel.DefaultHost, cfg.Attach, cfg.Probes)
	if err != nil {
		return preflight.Result{Check: name, Status: preflight.Fail, Detail: err.Error(), Fix: "another attach mode (see kprobes and tracepoints)"}
	}
	// A signal now would leave kprobe mode's events in tracefs: it waits
	// until the tracer is closed.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer func() {
		signal.Stop(sig)
		select {
		case s := <-sig:
			fmt.Fprintf(os.Stderr, "httptrace doctor: %v: stopped\n", s)
			os.Exit(130)
		default:
		}
	}()
	quiet := logrus.New()
	quiet.SetOutput(io.Discard)
	tr, err := tracer.Open(tracer.Options{CaptureBytes: cfg.CaptureBytes, TLS: cfg.TLS, NoUnix: !cfg.UnixSockets, Plan: plan, Log: quiet})
	if err != nil {
		return fail(err)
	}
	n, missing := tr.Attached()
	tr.Close()
	detail := fmt.Sprintf("%s mode: the programs load, and %d probes attach", plan.Mode, n)
	if len(missing) > 0 {
		return preflight.Result{Check: name, Status: preflight.Warn,
			Detail: detail + "; not attached (optional): " + strings.Join(missing, ", "), Fix: "run httptrace --verbose for why"}
	}
	return preflight.Result{Check: name, Status: preflight.OK, Detail: detail}
}
