package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/httptrace/httptrace/pkg/bpftrace"
	"github.com/httptrace/httptrace/pkg/kernel"
	"github.com/httptrace/httptrace/pkg/probes"
	"github.com/httptrace/httptrace/pkg/procs"
)

const bpftraceUsage = `httptrace bpftrace prints the bpftrace program equivalent to what httptrace
attaches for a configuration: the same data syscalls at the same probes and
the same process tracking (descendants included), printing one line per read
or write that starts an HTTP/1.x message, from its first bytes only:
  REQ pid=<pid> fd=<fd> bytes=<bytes moved> <first bytes>
  RESP pid=<pid> fd=<fd> bytes=<bytes moved> <first bytes>
  SENDFILE pid=<pid> fd=<fd> bytes=<bytes sent>
The program's header lists what it cannot do against httptrace.

Usage:
  httptrace bpftrace [-c FILE] [--pid N]... [--comm NAME]... [--attach MODE]
                     [--strlen N] [--first]
  sudo bpftrace <(httptrace bpftrace -c FILE --attach tracepoint)

Flags:
  -c, --config FILE   YAML configuration (see configs/httptrace.yaml)
      --pid N         trace process N and the descendants it has now (the
                      program follows later forks); repeatable.
                      With no PIDs and no names the program takes one PID
                      as its first argument: bpftrace SCRIPT PID
      --comm NAME     trace processes named NAME; repeatable
      --attach MODE   kprobe or tracepoint (overrides the config). auto, the
                      default, prints the kprobe program: a bpftrace program
                      attaches exactly what it names. Use tracepoint on kernels
                      without kprobes.
      --strlen N      bytes of each message printed, 4 to 200 (default 64,
                      bpftrace's default BPFTRACE_STRLEN); above 64, run
                      bpftrace with BPFTRACE_STRLEN=N
      --first         of a probe with alternatives ("A | B"), write the first
                      rather than the one this kernel has (for a program kept
                      for other machines; bpf/httptrace.bt is written so)
  -h, --help          this help

The program is written for bpftrace 0.17 or later. Exit status: 0, or 2 for
a bad configuration or usage.
`

// runBpftrace prints the bpftrace program equivalent to a configuration.
func runBpftrace(args []string, stdout, stderr io.Writer) int {
	var (
		o      options
		strlen int
		first  bool
	)
	fs := newFlagSet("httptrace bpftrace", &o)
	fs.IntVar(&strlen, "strlen", bpftrace.DefaultStrLen, "")
	fs.BoolVar(&first, "first", false, "")
	fail := func(err error) int {
		fmt.Fprintf(stderr, "httptrace bpftrace: %v\n", err)
		return exitUsage
	}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, bpftraceUsage)
		return 0
	}
	if err != nil {
		return fail(fmt.Errorf("%v (see httptrace bpftrace --help)", err))
	}
	if fs.NArg() > 0 {
		return fail(fmt.Errorf("unexpected argument %q (see httptrace bpftrace --help)", fs.Arg(0)))
	}

	cfg, err := readConfig(o)
	if err != nil {
		return fail(err)
	}
	if cfg.SelectsContainers() {
		return fail(errors.New("containers: a bpftrace program selects processes by PID or name only (give a container's with --pid)"))
	}
	// The PIDs need not exist here, nor be given: the program can take one.
	check := cfg
	if len(check.PIDs) == 0 && len(check.Comms) == 0 {
		check.PIDs = []int{1}
	}
	if err := check.Validate(); err != nil {
		return fail(err)
	}
	mode := cfg.Attach
	if mode == probes.ModeAuto {
		mode = probes.ModeKprobe
	}
	plan := cfg.Probes[mode]
	gen := bpftrace.Options{PIDs: withDescendants(cfg.PIDs), Comms: cfg.Comms, CaptureBytes: cfg.CaptureBytes, StrLen: strlen, TLS: cfg.TLS}
	if !first {
		gen.Resolve = func(c probes.Choice) (probes.Spec, error) { return probes.First(kernel.DefaultHost, c) }
	}
	script, err := bpftrace.GeneratePlan(plan, gen)
	if err != nil {
		return fail(err)
	}
	if _, err := io.WriteString(stdout, script); err != nil {
		return fail(err)
	}
	return 0
}

// withDescendants adds the running descendants of the given processes, as
// httptrace itself traces them: the program then sees the workers a server
// forked before it started (it follows later forks itself).
func withDescendants(pids []int) []int {
	if len(pids) == 0 {
		return pids
	}
	all, err := procs.List("/proc")
	if err != nil {
		return pids
	}
	return procs.Select(all, pids, nil)
}
