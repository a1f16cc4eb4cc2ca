package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/httptrace/httptrace/pkg/preflight"
	"github.com/httptrace/httptrace/pkg/probes"
	"github.com/httptrace/httptrace/pkg/runner"
)

const doctorUsage = `httptrace doctor checks that httptrace can trace here, and says in plain
words what is missing and how to fix it: the kernel, its BTF and lockdown
mode, the PID and user namespaces, each capability httptrace uses and what
for, tracefs, syscall tracepoints, the kprobe and uprobe PMUs,
RLIMIT_MEMLOCK, kernel.perf_event_paranoid, a seccomp filter, the cgroup
namespace and layout, and the container runtime whose API names
containers and pods (one must answer for --container and --pod; without
one, containers are known by ID alone). When none fails, it loads the BPF programs and
attaches them as a start-up with the same configuration would (tracing no
process), then detaches them. It leaves the host as it was (tracefs is not
mounted; kprobe mode's events are made and removed again; only before 5.11
is its own RLIMIT_MEMLOCK raised): run it as httptrace would run, in the
same container or with the same capabilities.

Usage:
  httptrace doctor [-c FILE] [--attach MODE] [--runtime-socket PATH]

Flags:
  -c, --config FILE   the configuration httptrace would run with (its attach
                      mode, probes and tls setting count)
      --attach MODE   auto, kprobe or tracepoint (overrides the config)
      --runtime-socket PATH
                      the container runtime's API socket (overrides the
                      config; default: the first of httptrace --help's
                      list that answers)

Each line is ok, warn (httptrace runs with less: what is named) or FAIL.
A start-up of httptrace stops at the failing checks, named.

Exit status: 0 when tracing would work (no check failed), 1 when a check
failed, 2 for a usage error or a bad configuration.
`

// runDoctor runs every check and reports them.
func runDoctor(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := newFlagSet("httptrace doctor", &o)
	fs.StringVar(&o.runtimeSock, "runtime-socket", "", "")
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, doctorUsage)
		return 0
	}
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err != nil {
		fmt.Fprintf(stderr, "httptrace doctor: %v (see httptrace doctor --help)\n", err)
		return exitUsage
	}
	// No process is traced; what the configuration selects matters only
	// to the container runtime check (pods and containers need one).
	cfg, err := readConfig(o)
	if err == nil && cfg.Attach != probes.ModeAuto && !slices.Contains(probes.Modes, cfg.Attach) {
		err = fmt.Errorf("--attach %q: want auto, kprobe or tracepoint", cfg.Attach)
	}
	if err != nil {
		fmt.Fprintf(stderr, "httptrace doctor: %v\n", err)
		return exitUsage
	}
	if !preflight.Report(stdout, runner.Doctor(cfg)) {
		return exitRuntime
	}
	return 0
}
