package preflight

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/httptrace/httptrace/pkg/kernel"
)

// fixture is a System over files of a temporary directory: a process
// holding caps (CapEff in hex), in the host's PID namespace, on release,
// with BTF, both PMUs and the memlock limits given. tracefs is the
// directory itself, which is not tracefs: the checks see it unmounted.
func fixture(t *testing.T, capEff, release string, cur, max uint64) System {
	t.Helper()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("proc/self/status", "Name:\tx\nCapEff:\t"+capEff+"\n")
	if err := os.MkdirAll(filepath.Join(dir, "proc/self/ns"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, ns := range map[string]string{"pid": initPIDNamespace, "user": initUserNamespace, "cgroup": initCgroupNamespace} {
		if err := os.Symlink(ns, filepath.Join(dir, "proc/self/ns", name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "cgroup"), 0o755); err != nil {
		t.Fatal(err)
	}
	return System{
		Host: kernel.Host{Release: release, BTF: write("btf", "x"), Tracefs: filepath.Join(dir, "tracing"),
			KprobePMU: write("kprobe/type", "6")},
		ProcRoot:     filepath.Join(dir, "proc"),
		UprobePMU:    write("uprobe/type", "7"),
		CgroupRoot:   filepath.Join(dir, "cgroup"),
		PerfParanoid: write("paranoid", "2\n"),
		Lockdown:     write("lockdown", "[none] integrity confidentiality\n"),
		Memlock:      func() (uint64, uint64, error) { return cur, max, nil },
	}
}

func byName(results []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range results {
		m[r.Check] = r
	}
	return m
}

const (
	capsRoot     = "000001ffffffffff"
	capsBPF      = "000000c000000000" // CAP_BPF + CAP_PERFMON
	capsBPFAlone = "0000008000000000"
	capsNone     = "0000000000000000"
)

func TestDoctor(t *testing.T) {
	const kib = 1024
	inf := uint64(unix.RLIM_INFINITY)
	cases := []struct {
		name, caps, release string
		cur, max            uint64
		fail                []string // the checks that fail, in order
		want                map[string]Status
	}{
		{name: "root", caps: capsRoot, release: "6.1.0-56-amd64", cur: 8192 * kib, max: 8192 * kib,
			// tracefs unmounted but mountable: a warning.
			want: map[string]Status{"CAP_BPF": OK, "CAP_SYS_ADMIN": OK, "tracefs": Warn, "tracepoints": Warn, "memlock": OK, "kernel": OK}},
		{name: "sys_admin alone", caps: "0000000000200000", release: "6.1.0-56-amd64", cur: inf, max: inf,
			want: map[string]Status{"CAP_BPF": OK, "CAP_PERFMON": OK, "tracefs": Warn, "perf_event_paranoid": OK}},
		{name: "bpf and perfmon", caps: capsBPF, release: "6.1.0-56-amd64", cur: 64 * kib, max: 64 * kib,
			fail: []string{"tracefs"},
			want: map[string]Status{"CAP_BPF": OK, "CAP_PERFMON": OK, "CAP_SYS_PTRACE": Warn, "CAP_DAC_READ_SEARCH": Warn, "perf_event_paranoid": OK}},
		{name: "bpf alone", caps: capsBPFAlone, release: "6.1.0-56-amd64", cur: inf, max: inf,
			fail: []string{"CAP_PERFMON", "tracefs"},
			want: map[string]Status{"CAP_BPF": OK, "perf_event_paranoid": Warn}},
		{name: "nobody", caps: capsNone, release: "6.12.1", cur: inf, max: inf,
			fail: []string{"CAP_BPF", "CAP_PERFMON", "tracefs"}},
		{name: "5.10 low memlock, no CAP_SYS_RESOURCE", caps: capsBPF, release: "5.10.0-32-amd64", cur: 64 * kib, max: 64 * kib,
			// The hard limit may be enough: that shows when the maps load.
			fail: []string{"tracefs"},
			want: map[string]Status{"CAP_SYS_RESOURCE": Warn, "memlock": Warn}},
		{name: "5.10 low memlock, raisable hard limit", caps: capsBPF, release: "5.10.0-32-amd64", cur: 64 * kib, max: inf,
			fail: []string{"tracefs"}, want: map[string]Status{"memlock": OK}},
		{name: "5.10 as root", caps: capsRoot, release: "5.10.0-32-amd64", cur: 64 * kib, max: 64 * kib,
			want: map[string]Status{"memlock": OK, "CAP_SYS_RESOURCE": OK}},
		{name: "old kernel", caps: capsRoot, release: "5.4.0", cur: inf, max: inf, want: map[string]Status{"kernel": Warn}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			results := Doctor(fixture(t, tc.caps, tc.release, tc.cur, tc.max))
			if got := strings.Join(Failed(results), ","); got != strings.Join(tc.fail, ",") {
				t.Errorf("failed checks %q, want %q", got, strings.Join(tc.fail, ","))
			}
			m := byName(results)
			for name, st := range tc.want {
				if m[name].Status != st {
					t.Errorf("%s: %s (%s), want %s", name, m[name].Status, m[name].Detail, st)
				}
			}
			for _, r := range results {
				if r.Status != OK && r.Fix == "" {
					t.Errorf("%s is %s with no fix: %s", r.Check, r.Status, r.Detail)
				}
			}
		})
	}
}

func TestDoctorBTFAndNamespace(t *testing.T) {
	s := fixture(t, capsRoot, "6.1.0", 0, 0)
	s.Host.BTF = filepath.Join(t.TempDir(), "vmlinux")
	ns := filepath.Join(s.ProcRoot, "self/ns/pid")
	os.Remove(ns)
	os.Symlink("pid:[4026532000]", ns)
	m := byName(Doctor(s))
	if r := m["btf"]; r.Status != Fail || !strings.Contains(r.Detail, "CONFIG_DEBUG_INFO_BTF") {
		t.Errorf("missing BTF: %+v", r)
	}
	if r := m["pid_namespace"]; r.Status != Fail || !strings.Contains(r.Fix, "--pid=host") {
		t.Errorf("own PID namespace: %+v", r)
	}
	os.Remove(s.UprobePMU)
	os.Remove(s.Host.KprobePMU)
	m = byName(Doctor(s))
	if m["uprobes"].Status != Warn || m["kprobes"].Status != Warn {
		t.Errorf("no PMUs: uprobes %+v, kprobes %+v", m["uprobes"], m["kprobes"])
	}
}

func TestDoctorNamespacesAndLockdown(t *testing.T) {
	s := fixture(t, capsRoot, "6.1.0", 0, 0)
	m := byName(Doctor(s))
	for _, name := range []string{"user_namespace", "lockdown", "cgroup", "pid_namespace"} {
		if m[name].Status != OK {
			t.Errorf("%s: %+v, want ok", name, m[name])
		}
	}
	if !strings.Contains(m["cgroup"].Detail, "the host's cgroup namespace") {
		t.Errorf("cgroup: %+v", m["cgroup"])
	}
	for name, ns := range map[string]string{"user": "user:[4026532001]", "cgroup": "cgroup:[4026532002]"} {
		link := filepath.Join(s.ProcRoot, "self/ns", name)
		os.Remove(link)
		if err := os.Symlink(ns, link); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(s.Lockdown, []byte("none integrity [confidentiality]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m = byName(Doctor(s))
	if r := m["user_namespace"]; r.Status != Fail || !strings.Contains(r.Detail, "user:[4026532001]") {
		t.Errorf("another user namespace: %+v", r)
	}
	if r := m["lockdown"]; r.Status != Fail || !strings.Contains(r.Detail, "confidentiality") {
		t.Errorf("lockdown=confidentiality: %+v", r)
	}
	if r := m["cgroup"]; r.Status != OK || !strings.Contains(r.Detail, "cgroup:[4026532002]") {
		t.Errorf("a cgroup namespace of its own: %+v", r)
	}
	os.Remove(s.Lockdown)
	if r := byName(Doctor(s))["lockdown"]; r.Status != OK || !strings.Contains(r.Detail, "not reported") {
		t.Errorf("no lockdown file: %+v", r)
	}
}

func TestDoctorUnreadable(t *testing.T) {
	s := fixture(t, capsRoot, "6.1.0", 0, 0)
	if err := os.WriteFile(filepath.Join(s.ProcRoot, "self/status"), []byte("Name:\tx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(s.PerfParanoid)
	m := byName(Doctor(s))
	if r := m["capabilities"]; r.Status != Fail || !strings.Contains(r.Detail, "no CapEff") {
		t.Errorf("no CapEff line: %+v", r)
	}
	if r := m["perf_event_paranoid"]; r.Status != Warn {
		t.Errorf("no perf_event_paranoid: %+v", r)
	}
}

func TestReport(t *testing.T) {
	var b strings.Builder
	okay := Report(&b, []Result{{"kernel", OK, "6.1", ""}, {"tracefs", Fail, "not mounted", "mount it"}, {"kprobes", Warn, "none", "use tracepoints"}})
	want := "ok    kernel   6.1\nFAIL  tracefs  not mounted\n               fix: mount it\nwarn  kprobes  none\n               fix: use tracepoints\n" +
		"tracing would not work: 1 check(s) failed: tracefs\n"
	if okay || b.String() != want {
		t.Errorf("report (ok %v):\n%s\nwant:\n%s", okay, b.String(), want)
	}
}

func TestReportNotLoaded(t *testing.T) {
	var b strings.Builder
	okay := Report(&b, []Result{{"tracefs", Warn, "not mounted: httptrace mounts it", "mount it"}, {LoadCheck, Warn, "programs not loaded: tracefs", "see tracefs"}})
	if !okay || !strings.HasSuffix(b.String(), "no check failed, but the programs were not loaded and attached (see bpf)\n") {
		t.Errorf("report (ok %v):\n%s", okay, b.String())
	}
}

func TestMemlockOnlyBefore511(t *testing.T) {
	raised, err := Memlock("6.1.0-56-amd64")
	if raised || err != nil {
		t.Errorf("6.1: raised %v, %v", raised, err)
	}
}

// TestDeploymentCapabilities: a deployment grants every capability the
// doctor checks but CAP_SYS_ADMIN, so the two lists cannot drift.
func TestDeploymentCapabilities(t *testing.T) {
	var checked []string
	for _, r := range Doctor(fixture(t, capsRoot, "5.10.0", 0, 0)) {
		if strings.HasPrefix(r.Check, "CAP_") && r.Check != "CAP_SYS_ADMIN" {
			checked = append(checked, r.Check)
		}
	}
	if got := DeploymentCapabilities(); strings.Join(got, ",") != strings.Join(checked, ",") {
		t.Errorf("DeploymentCapabilities %v, the doctor checks %v (and CAP_SYS_ADMIN)", got, checked)
	}
}

func TestLoadRefusal(t *testing.T) {
	eperm := fmt.Errorf("loading BPF programs: %w", syscall.EPERM)
	s := fixture(t, capsRoot, "6.1.0", 0, 0)
	if got := s.LoadRefusal(eperm); got != "" {
		t.Errorf("6.1, no filter: %q", got)
	}
	old := fixture(t, capsRoot, "5.10.0-32-amd64", 0, 0)
	if got := old.LoadRefusal(eperm); !strings.Contains(got, "RLIMIT_MEMLOCK") {
		t.Errorf("5.10: %q", got)
	}
	if err := os.WriteFile(filepath.Join(s.ProcRoot, "self/status"), []byte("CapEff:\t"+capsRoot+"\nSeccomp:\t2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := s.LoadRefusal(eperm); !strings.Contains(got, "seccomp=unconfined") {
		t.Errorf("seccomp filter: %q", got)
	}
	if got := s.LoadRefusal(fmt.Errorf("x: %w", syscall.EINVAL)); got != "" {
		t.Errorf("EINVAL: %q", got)
	}
}
