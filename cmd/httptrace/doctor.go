package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/httptrace/httptrace/pkg/preflight"
	"github.com/httptrace/httptrace/pkg/runner"
)

const doctorUsage = `httptrace doctor checks that httptrace can trace here, and says in plain
words what is missing and how to fix it: the kernel and its BTF, the PID
namespace, each capability httptrace uses, tracefs, syscall tracepoints,
the kprobe and uprobe PMUs, RLIMIT_MEMLOCK, kernel.perf_event_paranoid and
the cgroup layout. When none fails, it loads the BPF programs and attaches
them as a start-up would (attach mode auto, tracing no process), then
detaches them. It changes nothing on the host (tracefs is not mounted; only
before 5.11 is its own RLIMIT_MEMLOCK raised): run it as httptrace would
run, in the same container or with the same capabilities.

Usage:
  httptrace doctor

Each line is ok, warn (httptrace runs with less: what is named) or FAIL.
A start-up of httptrace stops at the first failing check, named.

Exit status: 0 when tracing would work (no check failed), 1 when a check
failed, 2 for a usage error.
`

// runDoctor runs every check and reports them.
func runDoctor(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("httptrace doctor", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
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
	if !preflight.Report(stdout, runner.Doctor()) {
		return exitRuntime
	}
	return 0
}
