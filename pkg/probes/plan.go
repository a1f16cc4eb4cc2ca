// Plans: the probes of every hook in one mode, checked and resolved against a kernel.

package probes

import (
	"errors"
	"fmt"
	"strings"

	"github.com/httptrace/httptrace/pkg/kernel"
)

// Check says whether a spec can serve this hook in this mode: the kind must
// match the mode and the side, a syscall tracepoint must be the syscall's
// enter or exit, and an event hook takes a raw tracepoint in every mode.
func (h Hook) Check(mode Mode, s Spec) error {
	if h.Side == Event {
		if s.Kind != RawTracepoint {
			return fmt.Errorf("%s must be a %s probe, not %q", h.Role, RawTracepoint, s)
		}
		return nil
	}
	switch mode {
	case ModeKprobe:
		want := Kprobe
		if h.Side == Return {
			want = Kretprobe
		}
		if s.Kind != want {
			return fmt.Errorf("%s in kprobe mode must be a %s probe, not %q", h.Role, want, s)
		}
	case ModeTracepoint:
		prefix := "sys_enter_"
		if h.Side == Return {
			prefix = "sys_exit_"
		}
		if s.Kind != Tracepoint || s.Category != "syscalls" || !strings.HasPrefix(s.Name, prefix) {
			return fmt.Errorf("%s in tracepoint mode must be tracepoint:syscalls:%s*, not %q", h.Role, prefix, s)
		}
	default:
		return fmt.Errorf("unknown attach mode %q", mode)
	}
	return nil
}

// Plan is what to attach in one mode: the probes of every hook. Each probe
// of a hook is attached; a probe with alternatives attaches one of them.
type Plan struct {
	Mode  Mode
	Roles map[Role][]Choice
	// Skipped says, after Resolve, which optional rows were left out and why.
	Skipped []string
}

// DefaultPlan is the table's defaults for a mode.
func DefaultPlan(mode Mode) Plan {
	p := Plan{Mode: mode, Roles: map[Role][]Choice{}}
	for _, row := range Table {
		for _, h := range row.Hooks {
			for _, s := range h.Defaults[mode] {
				c, err := ParseChoice(s)
				if err != nil {
					panic(fmt.Sprintf("probe table: %v", err)) // a defect in Table, caught by its tests
				}
				p.Roles[h.Role] = append(p.Roles[h.Role], c)
			}
		}
	}
	return p
}

// Attachment is one program attached at one spec.
type Attachment struct {
	Row      string
	Role     Role
	Program  string
	Spec     Spec
	Required bool
}

// Attachments lists, in table order, every program and attach point of the
// plan. A probe with alternatives contributes its first: resolve the plan
// against the kernel first (Resolve) to get the first that exists.
func (p Plan) Attachments() []Attachment {
	var out []Attachment
	for _, row := range Table {
		for _, h := range row.Hooks {
			for _, c := range p.Roles[h.Role] {
				out = append(out, Attachment{Row: row.Name, Role: h.Role, Program: h.Programs[p.Mode], Spec: c[0], Required: row.Required})
			}
		}
	}
	return out
}

// Programs lists the programs the plan attaches, once each.
func (p Plan) Programs() map[string]bool {
	out := map[string]bool{}
	for _, a := range p.Attachments() {
		out[a.Program] = true
	}
	return out
}

// resolver picks alternatives on one kernel. It reads once, of kallsyms,
// the functions it may be asked for (every one only to suggest names when
// none of a probe's alternatives exists). Resolving for the tracer, it also
// checks once that kprobes can be made here.
type resolver struct {
	host        kernel.Host
	needKprobes bool            // the tracer makes the kprobes: a kernel that cannot has no kernel function
	wanted      map[string]bool // kernel functions named by the choices to resolve
	syms        map[string]bool // those of wanted that are text symbols
	all         map[string]bool // every text symbol, for suggestions
	black       map[string]bool
	support     error // why kprobes cannot be made (needKprobes), or nil
	checked     bool  // support and black are known
}

// newResolver makes a resolver for the alternatives in choices.
func newResolver(h kernel.Host, needKprobes bool, choices ...Choice) *resolver {
	r := &resolver{host: h, needKprobes: needKprobes, wanted: map[string]bool{}}
	for _, c := range choices {
		for _, s := range c {
			if s.Kind == Kprobe || s.Kind == Kretprobe {
				r.wanted[s.Symbol] = true
			}
		}
	}
	return r
}

// missingSymbol is a kernel function kallsyms does not list.
type missingSymbol struct {
	name, kallsyms string
}

func (m missingSymbol) Error() string {
	return fmt.Sprintf("kernel function %s is not a text symbol in %s", m.name, m.kallsyms)
}

// exists reports why a spec cannot attach on this kernel, or nil.
func (r *resolver) exists(s Spec) error {
	switch s.Kind {
	case Tracepoint:
		return r.host.CheckTracepoint(s.Category, s.Name)
	case RawTracepoint:
		return r.host.CheckRawTracepoint(s.Name)
	}
	if !r.checked {
		r.checked = true
		if r.needKprobes {
			r.support = r.host.KprobeSupport()
		}
		if r.support == nil {
			r.black = r.host.KprobeBlacklist()
		}
	}
	if r.support != nil {
		return r.support
	}
	if r.syms == nil {
		var err error
		if r.syms, err = r.host.TextSymbols(r.wanted); err != nil {
			return err
		}
	}
	if r.black[s.Symbol] {
		return fmt.Errorf("kernel function %s is on the kprobe blacklist (%s)", s.Symbol, r.host.Blacklist)
	}
	if !r.syms[s.Symbol] {
		return missingSymbol{s.Symbol, r.host.Kallsyms}
	}
	return nil
}

// first returns the first alternative that exists, or why none does: when
// each is a kernel function and kprobes cannot be made, that reason alone
// (kernel.ErrNoKprobes or kernel.ErrKprobeEvents).
func (r *resolver) first(c Choice) (Spec, error) {
	var errs []error
	for _, s := range c {
		err := r.exists(s)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	var msgs []string
	kprobesOnly := len(errs) > 0
	for _, err := range errs {
		kprobesOnly = kprobesOnly && r.support != nil && err == r.support
		msg := err.Error()
		if m, ok := err.(missingSymbol); ok {
			if r.all == nil {
				r.all, _ = r.host.TextSymbols(nil) // read once, only now
			}
			if c := kernel.Candidates(m.name, r.all); len(c) > 0 {
				msg += "; similar: " + strings.Join(c, ", ")
			}
		}
		msgs = append(msgs, msg)
	}
	if kprobesOnly {
		return Spec{}, r.support
	}
	return Spec{}, errors.New(strings.Join(msgs, "; "))
}

// First returns the first alternative of a probe that exists on the kernel
// (a tracepoint under tracefs, a function in kallsyms and not blacklisted),
// or an error naming why each does not. Whether kprobes can be made is left
// to the caller (bpftrace, which makes its own, for the program generator).
func First(h kernel.Host, c Choice) (Spec, error) {
	return newResolver(h, false, c).first(c)
}

// Resolve checks a plan against a kernel and returns it with each probe
// reduced to its first alternative that exists. A required row without one
// is an error; an optional row is left out whole and named in Skipped. On a
// kernel without kprobes a kernel function never exists: a required row
// named by kernel functions only fails with that reason alone.
func Resolve(h kernel.Host, p Plan) (Plan, error) {
	var all []Choice
	for _, cs := range p.Roles {
		all = append(all, cs...)
	}
	r := newResolver(h, true, all...)
	out := Plan{Mode: p.Mode, Roles: map[Role][]Choice{}}
rows:
	for _, row := range Table {
		resolved := map[Role][]Choice{}
		for _, hk := range row.Hooks {
			for _, c := range p.Roles[hk.Role] {
				s, err := r.first(c)
				if err != nil {
					if row.Required {
						if errors.Is(err, kernel.ErrNoKprobes) || errors.Is(err, kernel.ErrKprobeEvents) {
							return Plan{}, err // the whole mode is out, not one probe
						}
						return Plan{}, fmt.Errorf("%s: %w", hk.Role, err)
					}
					out.Skipped = append(out.Skipped, fmt.Sprintf("%s: %v", hk.Role, err))
					continue rows
				}
				resolved[hk.Role] = append(resolved[hk.Role], Choice{s})
			}
		}
		for role, cs := range resolved {
			out.Roles[role] = cs
		}
	}
	return out, nil
}

// Choose resolves the requested mode to a plan. For auto it takes the first
// mode (kprobe, then tracepoint) whose plan resolves and returns why it
// chose it; for an explicit mode the plan must resolve.
func Choose(h kernel.Host, requested Mode, plans map[Mode]Plan) (Plan, string, error) {
	if requested != ModeAuto {
		p, err := Resolve(h, plans[requested])
		if err != nil {
			if errors.Is(err, kernel.ErrNoKprobes) || errors.Is(err, kernel.ErrKprobeEvents) {
				return Plan{}, "", fmt.Errorf("%s mode: %w; use --attach tracepoint", requested, err)
			}
			return Plan{}, "", fmt.Errorf("%s mode: %w", requested, err)
		}
		return p, "requested", nil
	}
	var why []string
	for _, m := range Modes {
		p, err := Resolve(h, plans[m])
		if err == nil {
			reason := "every probe resolves"
			if len(why) > 0 {
				reason = strings.Join(why, "; ")
			}
			return p, reason, nil
		}
		why = append(why, fmt.Sprintf("%s mode unavailable: %v", m, err))
	}
	return Plan{}, "", errors.New(strings.Join(why, "; "))
}
