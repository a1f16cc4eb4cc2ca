package probes

import (
	"fmt"
	"strings"
)

// Mode is how the programs attach: to kernel functions or to syscall tracepoints.
type Mode string

// The attach modes. Auto is resolved to one of the others at start-up.
const (
	ModeAuto       Mode = "auto"
	ModeKprobe     Mode = "kprobe"
	ModeTracepoint Mode = "tracepoint"
)

// Modes are the concrete attach modes, in the order auto prefers them.
var Modes = []Mode{ModeKprobe, ModeTracepoint}

// Role is one job in the tracing logic, served by one program per mode.
type Role string

// The roles. Adding one (a write, a recvfrom) is a row in Table and a
// program in bpf/httptrace.bpf.c.
const (
	AcceptReturn Role = "accept_return"
	ReadEntry    Role = "read_entry"
	ReadReturn   Role = "read_return"
	CloseEntry   Role = "close_entry"
)

// RoleDesc describes a role: its programs and default attach points per mode.
type RoleDesc struct {
	Role     Role
	Doc      string
	AtReturn bool // fires when the function or syscall returns
	// Required roles must attach; a failed optional one is logged and skipped.
	Required bool
	Programs map[Mode]string   // BPF program name per mode
	Defaults map[Mode][]string // default probes (choices) per mode
}

// Table is the probe table: the one place that says which program serves
// which role and where it attaches by default.
var Table = []RoleDesc{
	{
		Role:     AcceptReturn,
		Doc:      "an accept returns: the new fd of a tracked process becomes an active socket",
		AtReturn: true,
		Required: true,
		Programs: map[Mode]string{
			ModeKprobe:     "kretprobe_accept_return",
			ModeTracepoint: "tracepoint_accept_return",
		},
		Defaults: map[Mode][]string{
			ModeKprobe:     {"kretprobe:__sys_accept4"},
			ModeTracepoint: {"tracepoint:syscalls:sys_exit_accept4", "tracepoint:syscalls:sys_exit_accept"},
		},
	},
	{
		Role:     ReadEntry,
		Doc:      "a read starts: on an active socket its fd and buffer pointer are saved",
		Required: true,
		Programs: map[Mode]string{
			ModeKprobe:     "kprobe_read_entry",
			ModeTracepoint: "tracepoint_read_entry",
		},
		Defaults: map[Mode][]string{
			ModeKprobe:     {"kprobe:ksys_read"},
			ModeTracepoint: {"tracepoint:syscalls:sys_enter_read"},
		},
	},
	{
		Role:     ReadReturn,
		Doc:      "a read returns: the bytes read are copied and sent when they start an HTTP request",
		AtReturn: true,
		Required: true,
		Programs: map[Mode]string{
			ModeKprobe:     "kretprobe_read_return",
			ModeTracepoint: "tracepoint_read_return",
		},
		Defaults: map[Mode][]string{
			ModeKprobe:     {"kretprobe:ksys_read"},
			ModeTracepoint: {"tracepoint:syscalls:sys_exit_read"},
		},
	},
	{
		Role:     CloseEntry,
		Doc:      "a close starts: the fd stops being an active socket",
		Required: true,
		Programs: map[Mode]string{
			ModeKprobe:     "kprobe_close_entry",
			ModeTracepoint: "tracepoint_close_entry",
		},
		Defaults: map[Mode][]string{
			ModeKprobe:     {"kprobe:file_close_fd | kprobe:close_fd"},
			ModeTracepoint: {"tracepoint:syscalls:sys_enter_close"},
		},
	},
}

// Lookup returns the table row of a role.
func Lookup(r Role) (RoleDesc, bool) {
	for _, d := range Table {
		if d.Role == r {
			return d, true
		}
	}
	return RoleDesc{}, false
}

// RoleNames lists the roles in table order, for messages.
func RoleNames() []string {
	names := make([]string, len(Table))
	for i, d := range Table {
		names[i] = string(d.Role)
	}
	return names
}

// ProgramNames lists every program the table names, in table order.
func ProgramNames() []string {
	var names []string
	for _, d := range Table {
		for _, m := range Modes {
			names = append(names, d.Programs[m])
		}
	}
	return names
}

// Check says whether a spec can serve this role in this mode: the kind must
// match the mode and the role's entry or return side, and a tracepoint must be
// a syscall tracepoint whose arguments the program knows how to read.
func (d RoleDesc) Check(mode Mode, s Spec) error {
	switch mode {
	case ModeKprobe:
		want := Kprobe
		if d.AtReturn {
			want = Kretprobe
		}
		if s.Kind != want {
			return fmt.Errorf("%s in kprobe mode must be a %s probe, not %q", d.Role, want, s)
		}
	case ModeTracepoint:
		prefix := "sys_enter_"
		if d.AtReturn {
			prefix = "sys_exit_"
		}
		if s.Kind != Tracepoint || s.Category != "syscalls" || !strings.HasPrefix(s.Name, prefix) {
			return fmt.Errorf("%s in tracepoint mode must be tracepoint:syscalls:%s*, not %q", d.Role, prefix, s)
		}
	default:
		return fmt.Errorf("unknown attach mode %q", mode)
	}
	return nil
}

// Plan is what to attach in one mode: the probes of every role. Each probe
// of a role is attached; a probe with alternatives attaches one of them.
type Plan struct {
	Mode  Mode
	Roles map[Role][]Choice
}

// DefaultPlan is the table's defaults for a mode.
func DefaultPlan(mode Mode) Plan {
	p := Plan{Mode: mode, Roles: map[Role][]Choice{}}
	for _, d := range Table {
		for _, s := range d.Defaults[mode] {
			c, err := ParseChoice(s)
			if err != nil {
				panic(err)
			}
			p.Roles[d.Role] = append(p.Roles[d.Role], c)
		}
	}
	return p
}

// Attachment is one program attached at one spec.
type Attachment struct {
	Role     Role
	Program  string
	Spec     Spec
	Required bool
}

// Attachments lists, in table order, every program and attach point of the
// plan. A probe with alternatives contributes its first: resolve the plan
// against the kernel first (Host.Resolve) to get the first that exists.
func (p Plan) Attachments() []Attachment {
	var out []Attachment
	for _, d := range Table {
		for _, c := range p.Roles[d.Role] {
			out = append(out, Attachment{Role: d.Role, Program: d.Programs[p.Mode], Spec: c[0], Required: d.Required})
		}
	}
	return out
}
