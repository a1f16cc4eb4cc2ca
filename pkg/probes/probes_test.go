package probes

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/kernel"
)

func mustParseSpec(t *testing.T, s string) Spec {
	t.Helper()
	spec, err := ParseSpec(s)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

func TestParseChoice(t *testing.T) {
	c, err := ParseChoice("kprobe:file_close_fd |k:close_fd")
	if err != nil || len(c) != 2 || c.String() != "kprobe:file_close_fd | kprobe:close_fd" {
		t.Errorf("ParseChoice = %v, %v", c, err)
	}
	if _, err := ParseChoice("kprobe:a | "); err == nil {
		t.Error("an empty alternative was accepted")
	}
}

func TestParseSpec(t *testing.T) {
	cases := []struct {
		in, want, err string
	}{
		{in: "kprobe:ksys_read", want: "kprobe:ksys_read"},
		{in: "k:ksys_read", want: "kprobe:ksys_read"},
		{in: "kr:__sys_accept4", want: "kretprobe:__sys_accept4"},
		{in: "kretprobe:tcp_recvmsg.isra.0", want: "kretprobe:tcp_recvmsg.isra.0"},
		{in: "t:syscalls:sys_enter_read", want: "tracepoint:syscalls:sys_enter_read"},
		{in: " tracepoint:syscalls:sys_exit_read ", want: "tracepoint:syscalls:sys_exit_read"},
		{in: "kprobe:", err: "want kprobe:FUNCTION"},
		{in: "kprobe:a:b", err: "want kprobe:FUNCTION"},
		{in: "kprobe:9abc", err: "want kprobe:FUNCTION"},
		{in: "tracepoint:syscalls", err: "want tracepoint:CATEGORY:NAME"},
		{in: "tracepoint:sys calls:x", err: "want tracepoint:CATEGORY:NAME"},
		{in: "rawtracepoint:sched_process_fork", want: "rawtracepoint:sched_process_fork"},
		{in: "rt:sched_process_exit", want: "rawtracepoint:sched_process_exit"},
		{in: "rawtracepoint:sched:sched_process_fork", err: "want rawtracepoint:NAME"},
		{in: "fentry:ksys_read", err: `unknown kind "fentry"`},
		{in: "", err: `unknown kind ""`},
	}
	for _, tc := range cases {
		got, err := ParseSpec(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseSpec(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("ParseSpec(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestTableIsComplete(t *testing.T) {
	roles := map[Role]bool{}
	syscalls := map[event.Syscall]bool{}
	for _, row := range Table {
		if row.Syscall != 0 {
			syscalls[row.Syscall] = true
			if row.Shape == ShapeNone || len(row.Hooks) != 2 || row.Hooks[0].Side != Entry || row.Hooks[1].Side != Return {
				t.Errorf("data row %s: shape %q, hooks %+v", row.Name, row.Shape, row.Hooks)
			}
		}
		for _, h := range row.Hooks {
			if roles[h.Role] {
				t.Errorf("role %s is in two rows", h.Role)
			}
			roles[h.Role] = true
			for _, m := range Modes {
				if h.Programs[m] == "" {
					t.Errorf("%s has no %s program", h.Role, m)
				}
				if len(h.Defaults[m]) == 0 {
					t.Errorf("%s has no default %s probe", h.Role, m)
				}
				for _, s := range h.Defaults[m] {
					c, err := ParseChoice(s)
					if err != nil {
						t.Fatalf("default of %s in %s mode: %v", h.Role, m, err)
					}
					for _, alt := range c {
						if err := h.Check(m, alt); err != nil {
							t.Errorf("default of %s in %s mode: %v", h.Role, m, err)
						}
					}
				}
			}
			if h.Side == Event && h.Programs[ModeKprobe] != h.Programs[ModeTracepoint] {
				t.Errorf("event hook %s has a program per mode", h.Role)
			}
		}
	}
	// Every syscall of the wire format has a row except recvmmsg and
	// sendmmsg, and the TLS library calls (uprobes, in Uprobes).
	for s := event.SysRead; s < event.SysCount; s++ {
		if want := s != event.SysRecvmmsg && s != event.SysSendmmsg && s != event.SysTLSRead && s != event.SysTLSWrite; syscalls[s] != want {
			t.Errorf("syscall %s: in the table %v, want %v", s, syscalls[s], want)
		}
	}
	for _, r := range []Role{"read_entry", "read_return", "accept_return", "close_entry", "proc_fork", "sendmsg_return"} {
		if !roles[r] {
			t.Errorf("no role %s", r)
		}
	}
}

func TestCheck(t *testing.T) {
	_, read, _ := Lookup("read_entry")
	_, ret, _ := Lookup("read_return")
	_, fork, _ := Lookup("proc_fork")
	cases := []struct {
		h    Hook
		mode Mode
		spec string
		ok   bool
	}{
		{read, ModeKprobe, "kprobe:ksys_read", true},
		{read, ModeKprobe, "kretprobe:ksys_read", false},
		{read, ModeKprobe, "tracepoint:syscalls:sys_enter_read", false},
		{ret, ModeKprobe, "kretprobe:ksys_read", true},
		{read, ModeTracepoint, "tracepoint:syscalls:sys_enter_recvfrom", true},
		{read, ModeTracepoint, "tracepoint:syscalls:sys_exit_read", false},
		{ret, ModeTracepoint, "tracepoint:syscalls:sys_exit_read", true},
		{ret, ModeTracepoint, "tracepoint:sock:inet_sock_set_state", false},
		{fork, ModeKprobe, "rawtracepoint:sched_process_fork", true},
		{fork, ModeTracepoint, "rawtracepoint:sched_process_fork", true},
		{fork, ModeTracepoint, "tracepoint:sched:sched_process_fork", false},
		{read, ModeTracepoint, "rawtracepoint:sys_enter", false},
	}
	for _, tc := range cases {
		err := tc.h.Check(tc.mode, mustParseSpec(t, tc.spec))
		if (err == nil) != tc.ok {
			t.Errorf("%s %s %s: err = %v, want ok=%v", tc.h.Role, tc.mode, tc.spec, err, tc.ok)
		}
	}
}

// fakeHost lays out kallsyms, a blacklist and tracefs in a temporary folder:
// every default function except do_sendfile and file_close_fd, and every
// default tracepoint.
func fakeHost(t *testing.T, kprobes bool) kernel.Host {
	dir := t.TempDir()
	write := func(rel, body string) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	syms := "0000000000000000 D ksys_data\n0000000000000000 T __x64_sys_read\n0000000000000000 T do_int3\n"
	for _, f := range []string{"ksys_read", "ksys_write", "__sys_recvfrom", "__sys_sendto", "__sys_recvmsg",
		"__sys_sendmsg", "__sys_accept4", "__sys_connect", "__sys_listen", "close_fd", "ksys_mmap_pgoff"} {
		syms += "0000000000000000 T " + f + "\n"
	}
	syms += "0000000000000000 t do_readv\n0000000000000000 t do_writev\n"
	h := kernel.Host{
		Release:   "6.1.0",
		Kallsyms:  write("kallsyms", syms),
		Blacklist: write("blacklist", "0xffffffff81000000-0xffffffff81000010\tdo_int3\n"),
		KprobePMU: filepath.Join(dir, "kprobe-type"),
		Tracefs:   filepath.Join(dir, "tracing"),
	}
	for _, sc := range []string{"read", "readv", "recvfrom", "recvmsg", "write", "writev", "sendto", "sendmsg",
		"sendfile64", "connect", "accept4", "accept", "close"} {
		write("tracing/events/syscalls/sys_enter_"+sc+"/id", "1\n")
		write("tracing/events/syscalls/sys_exit_"+sc+"/id", "1\n")
	}
	for _, tp := range []string{"sched_process_fork", "sched_process_exec", "sched_process_exit"} {
		write("tracing/events/sched/"+tp+"/id", "1\n")
	}
	write("tracing/events/sock/inet_sock_set_state/id", "1\n")
	write("tracing/events/tcp/tcp_destroy_sock/id", "1\n")
	if kprobes {
		write("kprobe-type", "6\n")
		write("tracing/kprobe_events", "")
	}
	return h
}

// kprobePlan is a kprobe plan whose read entry is the given probe.
func kprobePlan(readEntry string) Plan {
	p := DefaultPlan(ModeKprobe)
	c, err := ParseChoice(readEntry)
	if err != nil {
		panic(err)
	}
	p.Roles["read_entry"] = []Choice{c}
	return p
}

func TestResolveSymbols(t *testing.T) {
	h := fakeHost(t, true)
	cases := []struct {
		readEntry string
		want      string // resolved spec, or an error fragment after "!"
	}{
		{"kprobe:ksys_read", "kprobe:ksys_read"},
		{"kprobe:do_readv", "kprobe:do_readv"},
		{"kprobe:nosuch | kprobe:ksys_read", "kprobe:ksys_read"},
		{"kprobe:ksys_raed", "!kernel function ksys_raed is not a text symbol"},
		{"kprobe:ksys_raed", "!similar: ksys_read"},
		{"kprobe:sys_read", "!similar: ksys_read, __x64_sys_read"},
		{"kprobe:ksys_data", "!ksys_data is not a text symbol"},
		{"kprobe:do_int3", "!blacklist"},
		{"kprobe:nosuch | kprobe:nosuch2", "!read_entry: kernel function nosuch is not a text symbol in " + h.Kallsyms + "; kernel function nosuch2"},
	}
	for _, tc := range cases {
		p, err := Resolve(h, kprobePlan(tc.readEntry))
		if strings.HasPrefix(tc.want, "!") {
			if err == nil || !strings.Contains(err.Error(), tc.want[1:]) {
				t.Errorf("%s: err = %v, want %q", tc.readEntry, err, tc.want[1:])
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.readEntry, err)
			continue
		}
		if got := p.Roles["read_entry"]; len(got) != 1 || got[0].String() != tc.want {
			t.Errorf("%s resolved to %v, want %s", tc.readEntry, got, tc.want)
		}
	}
	// The defaults: file_close_fd is missing here, close_fd is taken; the
	// optional sendfile row (no do_sendfile) is left out whole.
	p, err := Resolve(h, DefaultPlan(ModeKprobe))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Roles["close_entry"][0].String(); got != "kprobe:close_fd" {
		t.Errorf("close_entry resolved to %s", got)
	}
	if _, ok := p.Roles["sendfile_entry"]; ok || len(p.Skipped) != 1 || !strings.Contains(p.Skipped[0], "do_sendfile") {
		t.Errorf("sendfile: roles %v, skipped %q", p.Roles["sendfile_entry"], p.Skipped)
	}
	if got := p.Roles["proc_exit"]; len(got) != 1 || got[0].String() != "rawtracepoint:sched_process_exit" {
		t.Errorf("proc_exit resolved to %v", got)
	}
}

func TestCheckTracepoint(t *testing.T) {
	h := fakeHost(t, false)
	if err := h.CheckTracepoint("syscalls", "sys_enter_read"); err != nil {
		t.Error(err)
	}
	err := h.CheckTracepoint("syscalls", "sys_enter_raed")
	if err == nil || !strings.Contains(err.Error(), "similar: sys_enter_read") {
		t.Errorf("missing tracepoint: %v", err)
	}
	if err := h.CheckRawTracepoint("sched_process_fork"); err != nil {
		t.Error(err)
	}
	if err := h.CheckRawTracepoint("sched_process_frok"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing raw tracepoint: %v", err)
	}
	h.Tracefs = filepath.Join(t.TempDir(), "none")
	if err := h.CheckTracepoint("syscalls", "sys_enter_read"); err == nil || !strings.Contains(err.Error(), "tracefs is not mounted") {
		t.Errorf("no tracefs: %v", err)
	}
}

func TestChoose(t *testing.T) {
	plans := map[Mode]Plan{ModeKprobe: DefaultPlan(ModeKprobe), ModeTracepoint: DefaultPlan(ModeTracepoint)}

	p, why, err := Choose(fakeHost(t, true), ModeAuto, plans)
	if err != nil || p.Mode != ModeKprobe || why != "every probe resolves" {
		t.Errorf("auto with kprobes: %v %q %v", p.Mode, why, err)
	}

	p, why, err = Choose(fakeHost(t, false), ModeAuto, plans)
	if err != nil || p.Mode != ModeTracepoint || !strings.Contains(why, "no kprobes") {
		t.Errorf("auto without kprobes: %v %q %v", p.Mode, why, err)
	}

	_, _, err = Choose(fakeHost(t, false), ModeKprobe, plans)
	if err == nil || !strings.Contains(err.Error(), "kprobe mode: this kernel has no kprobes") {
		t.Errorf("kprobe requested without kprobes: %v", err)
	}

	// kprobe_events that may not be written (here a directory: root may
	// write any file): auto takes tracepoints, kprobe is refused with why.
	denied := fakeHost(t, true)
	events := filepath.Join(denied.Tracefs, "kprobe_events")
	if err := os.Remove(events); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(events, 0o755); err != nil {
		t.Fatal(err)
	}
	p, why, err = Choose(denied, ModeAuto, plans)
	if err != nil || p.Mode != ModeTracepoint || !strings.Contains(why, "kprobe events cannot be made") {
		t.Errorf("auto with kprobe_events not writable: %v %q %v", p.Mode, why, err)
	}
	_, _, err = Choose(denied, ModeKprobe, plans)
	if err == nil || !strings.Contains(err.Error(), "kprobe events cannot be made") || !strings.Contains(err.Error(), "use --attach tracepoint") {
		t.Errorf("kprobe requested with kprobe_events not writable: %v", err)
	}

	bad := map[Mode]Plan{ModeKprobe: kprobePlan("kprobe:nope_read"), ModeTracepoint: plans[ModeTracepoint]}
	p, why, err = Choose(fakeHost(t, true), ModeAuto, bad)
	if err != nil || p.Mode != ModeTracepoint || !strings.Contains(why, "nope_read") {
		t.Errorf("auto with an unresolved symbol: %v %q %v", p.Mode, why, err)
	}
}

func TestAttachmentsFollowTable(t *testing.T) {
	got := DefaultPlan(ModeTracepoint).Attachments()
	// Nine data rows and connect with two hooks, accept with two probes,
	// close, listen, a TLS library mapped, the socket's end and
	// destruction, and three process events.
	if len(got) != 9*2+2+2+1+1+1+2+3 {
		t.Fatalf("%d attachments: %+v", len(got), got)
	}
	if got[0].Program != ProgTpEnterRead || got[0].Spec.Name != "sys_enter_read" || got[1].Program != ProgTpExit ||
		got[len(got)-1].Program != ProgProcExit || got[len(got)-1].Spec.Kind != RawTracepoint {
		t.Errorf("attachments: %+v", got)
	}
	progs := DefaultPlan(ModeKprobe).Programs()
	if !progs[ProgKprobeSendfile] || !progs[ProgKretprobeReturn] || progs[ProgTpExit] || !progs[ProgProcFork] {
		t.Errorf("kprobe plan programs: %v", progs)
	}
	// An entry per mode for twelve syscall rows and mmap, two returns and
	// two accepts, two socket and three process events; four OpenSSL
	// entries and their one return, two Go TLS entries and a return each.
	if want := 2*13 + 2*2 + 2 + 3 + 5 + 4; len(ProgramNames()) != want {
		t.Errorf("%d programs named, want %d", len(ProgramNames()), want)
	}
}

// Without kprobes, kallsyms is never read (it is slow to read), and a
// kernel function's alternative gives way to the next one.
func TestNoKprobesReadsNoSymbols(t *testing.T) {
	h := fakeHost(t, false)
	h.Kallsyms = filepath.Join(t.TempDir(), "absent")
	plans := map[Mode]Plan{ModeKprobe: DefaultPlan(ModeKprobe), ModeTracepoint: DefaultPlan(ModeTracepoint)}
	p, why, err := Choose(h, ModeAuto, plans)
	if err != nil || p.Mode != ModeTracepoint || !strings.Contains(why, "kprobe mode unavailable: this kernel has no kprobes") {
		t.Errorf("auto without kprobes or kallsyms: %v %q %v", p.Mode, why, err)
	}
	// kallsyms lists ksys_read here: only the missing kprobes refuse it.
	h = fakeHost(t, false)
	mixed := DefaultPlan(ModeTracepoint)
	mixed.Roles["read_entry"] = []Choice{mustParseChoice(t, "kprobe:ksys_read | tracepoint:syscalls:sys_enter_read")}
	p, err = Resolve(h, mixed)
	if err != nil || p.Roles["read_entry"][0][0].Kind != Tracepoint {
		t.Errorf("kprobe, then tracepoint, without kprobes: %v %v", p.Roles["read_entry"], err)
	}
	if _, err := Resolve(h, DefaultPlan(ModeKprobe)); !errors.Is(err, kernel.ErrNoKprobes) || strings.Contains(err.Error(), "read_entry") {
		t.Errorf("kprobe plan without kprobes: %v, want %v alone", err, kernel.ErrNoKprobes)
	}
}

// First serves the bpftrace program generator, which need not be able to
// make kprobes itself (bpftrace makes them): it checks the functions only.
func TestFirstLeavesKprobesToTheCaller(t *testing.T) {
	s, err := First(fakeHost(t, false), mustParseChoice(t, "kprobe:file_close_fd | kprobe:close_fd"))
	if err != nil || s.Symbol != "close_fd" {
		t.Errorf("without kprobe_events: %+v %v, want close_fd", s, err)
	}
	// A missing function is named with similar ones, once none exists.
	_, err = First(fakeHost(t, true), mustParseChoice(t, "kprobe:ksys_raed"))
	if err == nil || !strings.Contains(err.Error(), "not a text symbol") || !strings.Contains(err.Error(), "similar: ksys_read") {
		t.Errorf("missing function: %v", err)
	}
}

func mustParseChoice(t *testing.T, s string) Choice {
	t.Helper()
	c, err := ParseChoice(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
