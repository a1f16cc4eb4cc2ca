package probes

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	seen := map[string]bool{}
	for _, d := range Table {
		for _, m := range Modes {
			prog := d.Programs[m]
			if prog == "" {
				t.Errorf("%s has no %s program", d.Role, m)
			}
			if seen[prog] {
				t.Errorf("program %s serves two roles", prog)
			}
			seen[prog] = true
			if len(d.Defaults[m]) == 0 {
				t.Errorf("%s has no default %s probe", d.Role, m)
			}
			for _, s := range d.Defaults[m] {
				c, err := ParseChoice(s)
				if err != nil {
					t.Fatalf("default of %s in %s mode: %v", d.Role, m, err)
				}
				for _, alt := range c {
					if err := d.Check(m, alt); err != nil {
						t.Errorf("default of %s in %s mode: %v", d.Role, m, err)
					}
				}
			}
		}
	}
}

func TestCheck(t *testing.T) {
	read, _ := Lookup(ReadEntry)
	ret, _ := Lookup(ReadReturn)
	cases := []struct {
		d    RoleDesc
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
	}
	for _, tc := range cases {
		err := tc.d.Check(tc.mode, mustParseSpec(t, tc.spec))
		if (err == nil) != tc.ok {
			t.Errorf("%s %s %s: err = %v, want ok=%v", tc.d.Role, tc.mode, tc.spec, err, tc.ok)
		}
	}
}

// fakeHost lays out kallsyms, a blacklist and tracefs in a temporary folder.
func fakeHost(t *testing.T, kprobes bool) Host {
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
	h := Host{
		Kallsyms: write("kallsyms", "0000000000000000 T ksys_read\n0000000000000000 T __sys_accept4\n"+
			"0000000000000000 T close_fd\n0000000000000000 t do_readv\n0000000000000000 D ksys_data\n"+
			"0000000000000000 T __x64_sys_read\n0000000000000000 T do_int3\n"),
		Blacklist: write("blacklist", "0xffffffff81000000-0xffffffff81000010\tdo_int3\n"),
		KprobePMU: filepath.Join(dir, "kprobe-type"),
		Tracefs:   filepath.Join(dir, "tracing"),
	}
	for _, tp := range []string{"sys_enter_read", "sys_exit_read", "sys_exit_accept4", "sys_exit_accept", "sys_enter_close"} {
		write("tracing/events/syscalls/"+tp+"/id", "1\n")
	}
	if kprobes {
		write("kprobe-type", "6\n")
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
	p.Roles[ReadEntry] = []Choice{c}
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
		p, err := h.Resolve(kprobePlan(tc.readEntry))
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
		if got := p.Roles[ReadEntry]; len(got) != 1 || got[0].String() != tc.want {
			t.Errorf("%s resolved to %v, want %s", tc.readEntry, got, tc.want)
		}
	}
	// The default close probe: file_close_fd is missing here, close_fd is taken.
	p, err := h.Resolve(DefaultPlan(ModeKprobe))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Roles[CloseEntry][0].String(); got != "kprobe:close_fd" {
		t.Errorf("close_entry resolved to %s", got)
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
	h.Tracefs = filepath.Join(t.TempDir(), "none")
	if err := h.CheckTracepoint("syscalls", "sys_enter_read"); err == nil || !strings.Contains(err.Error(), "tracefs is not mounted") {
		t.Errorf("no tracefs: %v", err)
	}
}

func TestChoose(t *testing.T) {
	plans := map[Mode]Plan{ModeKprobe: DefaultPlan(ModeKprobe), ModeTracepoint: DefaultPlan(ModeTracepoint)}

	p, why, err := fakeHost(t, true).Choose(ModeAuto, plans)
	if err != nil || p.Mode != ModeKprobe || why != "every probe resolves" {
		t.Errorf("auto with kprobes: %v %q %v", p.Mode, why, err)
	}

	p, why, err = fakeHost(t, false).Choose(ModeAuto, plans)
	if err != nil || p.Mode != ModeTracepoint || !strings.Contains(why, "no kprobes") {
		t.Errorf("auto without kprobes: %v %q %v", p.Mode, why, err)
	}

	_, _, err = fakeHost(t, false).Choose(ModeKprobe, plans)
	if err == nil || !strings.Contains(err.Error(), "kprobe mode: this kernel has no kprobes") {
		t.Errorf("kprobe requested without kprobes: %v", err)
	}

	bad := map[Mode]Plan{ModeKprobe: DefaultPlan(ModeKprobe), ModeTracepoint: plans[ModeTracepoint]}
	bad[ModeKprobe] = kprobePlan("kprobe:nope_read")
	p, why, err = fakeHost(t, true).Choose(ModeAuto, bad)
	if err != nil || p.Mode != ModeTracepoint || !strings.Contains(why, "nope_read") {
		t.Errorf("auto with an unresolved symbol: %v %q %v", p.Mode, why, err)
	}
}

func TestAttachmentsFollowTable(t *testing.T) {
	p := DefaultPlan(ModeTracepoint)
	got := p.Attachments()
	if len(got) != 5 {
		t.Fatalf("%d attachments, want 5: %+v", len(got), got)
	}
	if got[0].Program != "tracepoint_accept_return" || got[1].Spec.Name != "sys_exit_accept" || got[4].Role != CloseEntry {
		t.Errorf("attachments: %+v", got)
	}
}
