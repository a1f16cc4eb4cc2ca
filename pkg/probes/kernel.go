package probes

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Host is where the kernel facts the checks need are read from; the fields
// are paths so tests can point them at fixtures.
type Host struct {
	Kallsyms  string // /proc/kallsyms
	Blacklist string // kprobe blacklist (debugfs)
	KprobePMU string // present when the kernel can create kprobes through perf
	Tracefs   string // tracefs mount point
}

// DefaultHost reads the running kernel.
var DefaultHost = Host{
	Kallsyms:  "/proc/kallsyms",
	Blacklist: "/sys/kernel/debug/kprobes/blacklist",
	KprobePMU: "/sys/bus/event_source/devices/kprobe/type",
	Tracefs:   "/sys/kernel/tracing",
}

// ErrNoKprobes is returned when the kernel was built without kprobe events.
var ErrNoKprobes = errors.New("this kernel has no kprobes (CONFIG_KPROBE_EVENTS is off: no " +
	"/sys/bus/event_source/devices/kprobe)")

// KprobeSupport returns nil when kprobes can be attached, else why not.
func (h Host) KprobeSupport() error {
	if _, err := os.Stat(h.KprobePMU); err != nil {
		return ErrNoKprobes
	}
	return nil
}

// symbols reads the text symbols (t/T) of kallsyms.
func (h Host) symbols() (map[string]bool, error) {
	f, err := os.Open(h.Kallsyms)
	if err != nil {
		return nil, fmt.Errorf("reading kernel symbols: %w", err)
	}
	defer f.Close()
	syms := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 3 && (fields[1] == "t" || fields[1] == "T") {
			syms[fields[2]] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading kernel symbols: %w", err)
	}
	return syms, nil
}

// blacklisted reads the kprobe blacklist; a missing file (debugfs not
// mounted) gives an empty list, since attaching still fails cleanly then.
func (h Host) blacklisted() map[string]bool {
	out := map[string]bool{}
	data, err := os.ReadFile(h.Blacklist)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			out[f[len(f)-1]] = true
		}
	}
	return out
}

// CheckTracepoint confirms a tracepoint exists under tracefs.
func (h Host) CheckTracepoint(category, name string) error {
	dir := filepath.Join(h.Tracefs, "events", category)
	if _, err := os.Stat(filepath.Join(dir, name, "id")); err == nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(h.Tracefs, "events")); err != nil {
		return fmt.Errorf("tracefs is not mounted at %s (mount -t tracefs tracefs %s)", h.Tracefs, h.Tracefs)
	}
	msg := fmt.Sprintf("tracepoint %s:%s does not exist (%s)", category, name, dir)
	entries, _ := os.ReadDir(dir)
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
	}
	if c := candidates(name, have); len(c) > 0 {
		msg += "; similar: " + strings.Join(c, ", ")
	}
	return errors.New(msg)
}

// exists reports why a spec cannot attach here, or nil. Kernel functions are
// looked up in syms (kallsyms text symbols) and the blacklist.
func (h Host) exists(s Spec, syms, black map[string]bool) error {
	if s.Kind == Tracepoint {
		return h.CheckTracepoint(s.Category, s.Name)
	}
	if black[s.Symbol] {
		return fmt.Errorf("kernel function %s is on the kprobe blacklist (%s)", s.Symbol, h.Blacklist)
	}
	if !syms[s.Symbol] {
		msg := fmt.Sprintf("kernel function %s is not a text symbol in %s", s.Symbol, h.Kallsyms)
		if c := candidates(s.Symbol, syms); len(c) > 0 {
			msg += "; similar: " + strings.Join(c, ", ")
		}
		return errors.New(msg)
	}
	return nil
}

// hostSymbols holds kallsyms and the blacklist once read.
type hostSymbols struct {
	syms, black map[string]bool
}

// First returns the first alternative of a probe that exists on this kernel
// (a tracepoint under tracefs, a function in kallsyms and not blacklisted),
// or an error naming why each does not.
func (h Host) First(c Choice) (Spec, error) {
	var hs hostSymbols
	return h.first(c, &hs)
}

func (h Host) first(c Choice, hs *hostSymbols) (Spec, error) {
	var errs []string
	for _, s := range c {
		if s.Kind != Tracepoint && hs.syms == nil {
			syms, err := h.symbols()
			if err != nil {
				return Spec{}, err
			}
			hs.syms, hs.black = syms, h.blacklisted()
		}
		if err := h.exists(s, hs.syms, hs.black); err != nil {
			errs = append(errs, err.Error())
			continue
		}
		return s, nil
	}
	return Spec{}, errors.New(strings.Join(errs, "; "))
}

// Resolve checks a plan against this kernel and returns it with each probe
// reduced to its first alternative that exists. It fails when a probe has
// none, or when kernel functions are named on a kernel without kprobes.
func (h Host) Resolve(p Plan) (Plan, error) {
	var hs hostSymbols
	out := Plan{Mode: p.Mode, Roles: map[Role][]Choice{}}
	kprobes := false
	for _, d := range Table {
		for _, c := range p.Roles[d.Role] {
			s, err := h.first(c, &hs)
			if err != nil {
				return Plan{}, fmt.Errorf("%s: %w", d.Role, err)
			}
			kprobes = kprobes || s.Kind != Tracepoint
			out.Roles[d.Role] = append(out.Roles[d.Role], Choice{s})
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
func (h Host) Choose(requested Mode, plans map[Mode]Plan) (Plan, string, error) {
	if requested != ModeAuto {
		p, err := h.Resolve(plans[requested])
		if err != nil {
			if errors.Is(err, ErrNoKprobes) {
				return Plan{}, "", fmt.Errorf("%s mode: %w; use --attach tracepoint", requested, err)
			}
			return Plan{}, "", fmt.Errorf("%s mode: %w", requested, err)
		}
		return p, "requested", nil
	}
	var why []string
	for _, m := range Modes {
		p, err := h.Resolve(plans[m])
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

// candidates suggests up to five names close to the wanted one: those that
// contain it (ignoring leading underscores) or are a few edits away.
func candidates(want string, have map[string]bool) []string {
	core := strings.TrimLeft(want, "_")
	type scored struct {
		name string
		d    int
	}
	var found []scored
	for name := range have {
		switch {
		case core != "" && strings.Contains(name, core) && len(name) <= len(want)+12:
			found = append(found, scored{name, len(name) - len(core)})
		default:
			if d := editDistance(want, name); d <= 2 {
				found = append(found, scored{name, d})
			}
		}
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].d != found[j].d {
			return found[i].d < found[j].d
		}
		return found[i].name < found[j].name
	})
	var out []string
	for i := 0; i < len(found) && i < 5; i++ {
		out = append(out, found[i].name)
	}
	return out
}

// editDistance is the Levenshtein distance, bounded for speed: names whose
// lengths differ by more than 2 are not compared.
func editDistance(a, b string) int {
	if d := len(a) - len(b); d > 2 || d < -2 {
		return 3
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
