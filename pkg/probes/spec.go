// Package probes owns the probe table: what httptrace attaches to (each
// socket syscall with its direction and argument shape, connection hints,
// close, process events), which program serves each hook in each attach
// mode, the bpftrace-syntax probe specs that name attach points, and their
// resolution against a kernel.
package probes

import (
	"fmt"
	"strings"
)

// Kind is the attach kind of a probe spec, named as bpftrace names it.
type Kind string

// The attach kinds a spec may name.
const (
	Kprobe     Kind = "kprobe"
	Kretprobe  Kind = "kretprobe"
	Tracepoint Kind = "tracepoint"
	// RawTracepoint is a tracepoint whose program gets the tracepoint's own
	// arguments (bpftrace 0.21's rawtracepoint:NAME).
	RawTracepoint Kind = "rawtracepoint"
	// Uprobe and Uretprobe are a user-space function's entry and return
	// (Symbol is FILE:OFFSET); made at run time for the libraries that
	// Uprobes names, never written in a configuration.
	KindUprobe    Kind = "uprobe"
	KindUretprobe Kind = "uretprobe"
)

// shortKinds are bpftrace's one- and two-letter aliases.
var shortKinds = map[string]Kind{
	"k": Kprobe, "kprobe": Kprobe,
	"kr": Kretprobe, "kretprobe": Kretprobe,
	"t": Tracepoint, "tracepoint": Tracepoint,
	"rt": RawTracepoint, "rawtracepoint": RawTracepoint,
}

// Spec is one attach point in bpftrace's probe syntax:
// kprobe:SYMBOL, kretprobe:SYMBOL, tracepoint:CATEGORY:NAME or
// rawtracepoint:NAME.
type Spec struct {
	Kind     Kind
	Symbol   string // kernel function, for kprobe and kretprobe
	Category string // tracepoint category, e.g. syscalls
	Name     string // tracepoint name, e.g. sys_enter_read
}

// ParseSpec parses a probe in bpftrace syntax, accepting bpftrace's short
// kind aliases (k:, kr:, t:).
func ParseSpec(s string) (Spec, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	kind, ok := shortKinds[parts[0]]
	if !ok {
		return Spec{}, fmt.Errorf("probe %q: unknown kind %q (want kprobe, kretprobe, tracepoint or rawtracepoint)", s, parts[0])
	}
	switch kind {
	case Kprobe, Kretprobe:
		if len(parts) != 2 || !isIdent(parts[1]) {
			return Spec{}, fmt.Errorf("probe %q: want %s:FUNCTION", s, kind)
		}
		return Spec{Kind: kind, Symbol: parts[1]}, nil
	case RawTracepoint:
		if len(parts) != 2 || !isIdent(parts[1]) {
			return Spec{}, fmt.Errorf("probe %q: want rawtracepoint:NAME", s)
		}
		return Spec{Kind: kind, Name: parts[1]}, nil
	default:
		if len(parts) != 3 || !isIdent(parts[1]) || !isIdent(parts[2]) {
			return Spec{}, fmt.Errorf("probe %q: want tracepoint:CATEGORY:NAME", s)
		}
		return Spec{Kind: kind, Category: parts[1], Name: parts[2]}, nil
	}
}

// String gives the spec in its canonical bpftrace form.
func (s Spec) String() string {
	switch s.Kind {
	case Tracepoint:
		return fmt.Sprintf("tracepoint:%s:%s", s.Category, s.Name)
	case RawTracepoint:
		return fmt.Sprintf("rawtracepoint:%s", s.Name)
	}
	return fmt.Sprintf("%s:%s", s.Kind, s.Symbol)
}

// Choice is a probe with alternatives, written "A | B": the first that
// exists on the running kernel is attached. Kernels rename functions (close(2)
// calls file_close_fd since 6.8, close_fd before), so one configuration can
// name both.
type Choice []Spec

// ParseChoice parses one probe or alternatives separated by "|".
func ParseChoice(s string) (Choice, error) {
	var c Choice
	for _, part := range strings.Split(s, "|") {
		spec, err := ParseSpec(part)
		if err != nil {
			return nil, err
		}
		c = append(c, spec)
	}
	return c, nil
}

// String gives the choice as it is written in a configuration.
func (c Choice) String() string {
	parts := make([]string, len(c))
	for i, s := range c {
		parts[i] = s.String()
	}
	return strings.Join(parts, " | ")
}

// isIdent reports whether s is a C identifier (kernel symbols may carry a
// ".isra.0"-style suffix, which bpftrace also accepts).
func isIdent(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
