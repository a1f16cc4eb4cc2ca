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

// exists reports why a spec cannot attach on this kernel, or nil.
func exists(h kernel.Host, s Spec, syms *map[string]bool, black map[string]bool) error {
	switch s.Kind {
	case Tracepoint:
		return h.CheckTracepoint(s.Category, s.Name)
	case RawTracepoint:
		return h.CheckRawTracepoint(s.Name)
	}
	if *syms == nil {
		var err error
		if *syms, err = h.TextSymbols(); err != nil {
			return err
		}
	}
	if black[s.Symbol] {
		return fmt.Errorf("kernel function %s is on the kprobe blacklist (%s)", s.Symbol, h.Blacklist)
	}
	if !(*syms)[s.Symbol] {
		msg := fmt.Sprintf("kernel function %s is not a text symbol in %s", s.Symbol, h.Kallsyms)
		if c := kernel.Candidates(s.Symbol, *syms); len(c) > 0 {
			msg += "; similar: " + strings.Join(c, ", ")
		}
		return errors.New(msg)
	}
	return nil
}

// resolver picks alternatives on one kernel, reading its symbols once.
type resolver struct {
	host  kernel.Host
	syms  map[string]bool
	black map[string]bool
}

// first returns the first alternative that exists, or why none does.
func (r *resolver) first(c Choice) (Spec, error) {
	var errs []string
	for _, s := range c {
		if s.Kind == Kprobe || s.Kind == Kretprobe {
			if r.black == nil {
				r.black = r.host.KprobeBlacklist()
			}
		}
		if err := exists(r.host, s, &r.syms, r.black); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		return s, nil
	}
	return Spec{}, errors.New(strings.Join(errs, "; "))
}

// First returns the first alternative of a probe that exists on the kernel
// (a tracepoint under tracefs, a function in kallsyms and not blacklisted),
// or an error naming why each does not.
func First(h kernel.Host, c Choice) (Spec, error) {
	r := resolver{host: h}
	return r.first(c)
}

// Resolve checks a plan against a kernel and returns it with each probe
// reduced to its first alternative that exists. A required row without one
// is an error; an optional row is left out whole and named in Skipped. It
// also fails when kernel functions are named on a kernel without kprobes.
func Resolve(h kernel.Host, p Plan) (Plan, error) {
	r := resolver{host: h}
	out := Plan{Mode: p.Mode, Roles: map[Role][]Choice{}}
	kprobes := false
rows:
	for _, row := range Table {
		resolved := map[Role][]Choice{}
		for _, hk := range row.Hooks {
			for _, c := range p.Roles[hk.Role] {
				s, err := r.first(c)
				if err != nil {
					if row.Required {
						return Plan{}, fmt.Errorf("%s: %w", hk.Role, err)
					}
					out.Skipped = append(out.Skipped, fmt.Sprintf("%s: %v", hk.Role, err))
					continue rows
				}
				resolved[hk.Role] = append(resolved[hk.Role], Choice{s})
			}
		}
		for role, cs := range resolved {
			for _, c := range cs {
				kprobes = kprobes || c[0].Kind == Kprobe || c[0].Kind == Kretprobe
			}
			out.Roles[role] = cs
		}
	}
	if kprobes {
		if err := h.KprobeSupport(); err != nil {
			return Plan{}, err
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
