// Package bpftrace writes the bpftrace program equivalent to what httptrace
// attaches for a configuration: the data syscalls of the probe table at the
// same probes, the same process tracking, and a line per read or write that
// starts like an HTTP request or response.
//
// The output targets bpftrace 0.17 (Debian 12) and later.
package bpftrace

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/probes"
)

// String sizes. bpftrace copies buf() and str() through a buffer of
// BPFTRACE_STRLEN bytes: 64 unless that variable raises it, at most 200.
const (
	DefaultStrLen = 64
	MaxStrLen     = 200
)

// Options are the settings of one script.
type Options struct {
	// PIDs to trace. None and no Comms: the script takes one PID as its
	// first argument.
	PIDs []int
	// Comms are command names to trace.
	Comms []string
	// CaptureBytes is the configured capture size; the script prints no
	// more than this nor more than StrLen.
	CaptureBytes int
	// StrLen is the BPFTRACE_STRLEN the script is written for
	// (DefaultStrLen if 0).
	StrLen int
	// TLS adds the uprobes on OpenSSL's reads and writes.
	TLS bool
	// Resolve picks the alternative of a probe ("A | B") to write; nil
	// writes the first. httptrace itself attaches the first that exists on
	// the running kernel (probes.First).
	Resolve func(probes.Choice) (probes.Spec, error)
}

// Generate writes the script for a configuration in an attach mode. Auto
// is written as kprobe mode: a script attaches exactly what it names, so
// the choice auto makes at run time cannot be made in it.
func Generate(cfg config.Config, mode probes.Mode) (string, error) {
	if mode == probes.ModeAuto || mode == "" {
		mode = probes.ModeKprobe
	}
	plan, ok := cfg.Probes[mode]
	if !ok {
		return "", fmt.Errorf("no probes for attach mode %q (want kprobe or tracepoint)", mode)
	}
	return GeneratePlan(plan, Options{PIDs: cfg.PIDs, Comms: cfg.Comms, CaptureBytes: cfg.CaptureBytes, TLS: cfg.TLS})
}

// block is one probe list with its predicate and action.
type block struct {
	role  probes.Role
	specs []string
	action
}

// GeneratePlan writes the script for a probe plan.
func GeneratePlan(plan probes.Plan, o Options) (string, error) {
	if o.StrLen == 0 {
		o.StrLen = DefaultStrLen
	}
	if o.StrLen < 4 || o.StrLen > MaxStrLen {
		return "", fmt.Errorf("string size %d is out of range (4 to %d, bpftrace's limit)", o.StrLen, MaxStrLen)
	}
	if o.CaptureBytes <= 0 {
		o.CaptureBytes = config.DefaultCaptureBytes
	}
	args, ok := modeArgs[plan.Mode]
	if !ok {
		return "", fmt.Errorf("attach mode %q has no bpftrace form (want kprobe or tracepoint)", plan.Mode)
	}
	tracked, err := trackedPred(o)
	if err != nil {
		return "", err
	}
	v := scriptVars{tracked: tracked, show: min(o.StrLen, o.CaptureBytes)}
	plan, choices, err := resolve(plan, o.Resolve)
	if err != nil {
		return "", err
	}
	atts := plan.Attachments()
	if len(atts) == 0 {
		return "", fmt.Errorf("%s mode: the plan attaches nothing", plan.Mode)
	}

	var blocks []block
	for _, a := range atts {
		row, h, _ := probes.Lookup(a.Role)
		if _, out := leftOut[row.Name]; out {
			continue
		}
		spec, e := a.Spec, exprs{}
		if h.Side == probes.Event {
			if spec, err = eventSpec(a.Spec); err != nil {
				return "", fmt.Errorf("%s: %w", a.Role, err)
			}
		} else if e, err = args(a.Spec); err != nil {
			return "", fmt.Errorf("%s: %w", a.Role, err)
		}
		act, ok, err := rowAction(row, h, e, v)
		if err != nil {
			return "", fmt.Errorf("%s: %s: %w", a.Role, a.Spec, err)
		}
		if !ok {
			continue
		}
		// Consecutive probes of one role with the same action share a block.
		if n := len(blocks); n > 0 && blocks[n-1].role == a.Role && blocks[n-1].action == act {
			blocks[n-1].specs = append(blocks[n-1].specs, spec.String())
			continue
		}
		blocks = append(blocks, block{role: a.Role, specs: []string{spec.String()}, action: act})
	}

	var b strings.Builder
	header(&b, plan, o, v.show, choices)
	begin(&b, o)
	for _, bl := range blocks {
		row, _, _ := probes.Lookup(bl.role)
		fmt.Fprintf(&b, "// %s: %s\n", bl.role, row.Doc)
		b.WriteString(strings.Join(bl.specs, ",\n"))
		fmt.Fprintf(&b, "\n/ %s /\n{\n%s}\n\n", bl.pred, bl.body)
	}
	if o.TLS {
		tlsBlocks(&b, v)
		b.WriteString(strings.Replace(end, "\tclear(@ptr);\n", "\tclear(@ptr);\n\tclear(@sslbuf);\n\tclear(@sslex);\n", 1))
	} else {
		b.WriteString(end)
	}
	return b.String(), nil
}

// begin writes the BEGIN block: the traced PIDs enter @tracked.
func begin(b *strings.Builder, o Options) {
	b.WriteString("BEGIN\n{\n")
	if len(o.PIDs) == 0 && len(o.Comms) == 0 {
		b.WriteString("\tif ($1 == 0) {\n\t\tprintf(\"usage: bpftrace SCRIPT PID\\n\");\n\t\texit();\n\t}\n\t@tracked[$1] = 1;\n")
	}
	for _, p := range sortedPIDs(o.PIDs) {
		fmt.Fprintf(b, "\t@tracked[%d] = 1;\n", p)
	}
	fmt.Fprintf(b, "\tprintf(\"Tracing HTTP of %s... Hit Ctrl-C to end.\\n\"%s);\n}\n\n", who(o, "%d"), whoArgs(o))
}

// end prints the one counter kept and empties the maps, so bpftrace does
// not dump them on exit.
const end = `END
{
	if (@returns_missed > 0) {
		printf("returns missed: %d\n", @returns_missed);
	}
	clear(@returns_missed);
	clear(@tracked);
	clear(@entry);
	clear(@fd);
	clear(@ptr);
	clear(@h2);
	clear(@h2skip);
	clear(@h2lost);
}
`

// eventSpec is the bpftrace probe of a process event. bpftrace 0.17 has no
// rawtracepoint probes, so the scheduler's raw tracepoints the table names
// are written as the tracepoints of the same events.
func eventSpec(s probes.Spec) (probes.Spec, error) {
	if s.Kind != probes.RawTracepoint || !strings.HasPrefix(s.Name, "sched_process_") {
		return probes.Spec{}, fmt.Errorf("%s: only rawtracepoint:sched_process_* has a bpftrace form (tracepoint:sched:*)", s)
	}
	return probes.Spec{Kind: probes.Tracepoint, Category: "sched", Name: s.Name}, nil
}

// trackedPred is the predicate matching the traced processes: bpftrace's
// pid is the kernel tgid, the process, as the BPF side's tracked_pids keys;
// names match the current command name.
func trackedPred(o Options) (string, error) {
	parts := []string{"@tracked[pid]"}
	for _, p := range o.PIDs {
		if p <= 0 {
			return "", fmt.Errorf("PID %d is not a process ID", p)
		}
	}
	for _, c := range o.Comms {
		if c == "" || len(c) > config.CommLen || strings.ContainsAny(c, `"\`) {
			return "", fmt.Errorf("command name %q cannot be matched (1 to %d bytes, no quotes or backslashes)", c, config.CommLen)
		}
		for _, r := range c {
			if r < ' ' || r > '~' {
				return "", fmt.Errorf("command name %q cannot be matched (printable ASCII only)", c)
			}
		}
		parts = append(parts, fmt.Sprintf("comm == %q", c))
	}
	return strings.Join(parts, " || "), nil
}

func sortedPIDs(pids []int) []int {
	s := append([]int(nil), pids...)
	sort.Ints(s)
	return s
}

// who names what the program traces for people; format is how a PID
// taken as the first argument is written ("%d" in printf, "$1" elsewhere).
func who(o Options, arg string) string {
	var parts []string
	if len(o.PIDs) == 0 && len(o.Comms) == 0 {
		parts = append(parts, "PID "+arg)
	}
	if len(o.PIDs) > 0 {
		ps := make([]string, len(o.PIDs))
		for i, p := range sortedPIDs(o.PIDs) {
			ps[i] = strconv.Itoa(p)
		}
		if len(ps) == 1 {
			parts = append(parts, "PID "+ps[0])
		} else {
			parts = append(parts, "PIDs "+strings.Join(ps, ", "))
		}
	}
	if len(o.Comms) > 0 {
		parts = append(parts, "processes named "+strings.Join(o.Comms, ", "))
	}
	return strings.Join(parts, " and ")
}

// whoArgs are the printf arguments of who's format.
func whoArgs(o Options) string {
	if len(o.PIDs) == 0 && len(o.Comms) == 0 {
		return ", $1"
	}
	return ""
}

// resolve reduces each probe with alternatives to one, and describes the
// choices made for the header.
func resolve(plan probes.Plan, pick func(probes.Choice) (probes.Spec, error)) (probes.Plan, []string, error) {
	out := probes.Plan{Mode: plan.Mode, Roles: map[probes.Role][]probes.Choice{}}
	var notes []string
	for _, name := range probes.RoleNames() {
		role := probes.Role(name)
		row, _, _ := probes.Lookup(role)
		if _, skip := leftOut[row.Name]; skip {
			continue
		}
		for _, c := range plan.Roles[role] {
			s := c[0]
			if pick != nil && len(c) > 1 {
				var err error
				if s, err = pick(c); err != nil {
					return out, nil, fmt.Errorf("%s: %w", role, err)
				}
			}
			if len(c) > 1 {
				notes = append(notes, fmt.Sprintf("%s: %s (this program: %s)", role, c, s))
			}
			out.Roles[role] = append(out.Roles[role], probes.Choice{s})
		}
	}
	return out, notes, nil
}
