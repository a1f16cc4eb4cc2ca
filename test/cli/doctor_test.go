package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/kernel"
	"github.com/httptrace/httptrace/test/harness"
)

// doctorChecks are the checks httptrace doctor reports, in its order.
var doctorChecks = []string{"kernel", "btf", "lockdown", "pid_namespace", "user_namespace", "CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE",
	"CAP_DAC_READ_SEARCH", "CAP_SYS_RESOURCE", "CAP_SYS_ADMIN", "tracefs", "tracepoints", "kprobes", "uprobes",
	"memlock", "perf_event_paranoid", "seccomp", "cgroup", "container_runtime", "bpf"}

// doctorLine is one check's line of the report.
type doctorLine struct{ status, detail string }

// runDoctor runs httptrace doctor through wrap, and returns its exit
// status, its checks by name, in order, and its last line.
func runDoctor(t *testing.T, wrap func(bin string, args []string) *exec.Cmd, args ...string) (int, map[string]doctorLine, []string, string) {
	t.Helper()
	bin := harness.Bin(t)
	args = append([]string{"doctor"}, args...)
	cmd := exec.Command(bin, args...)
	if wrap != nil {
		cmd = wrap(bin, args)
	}
	stdout, stderr, code, _ := runBounded(t, cmd, 30*time.Second)
	if stderr != "" {
		t.Errorf("stderr: %q", stderr)
	}
	lines := strings.Split(strings.TrimSuffix(string(stdout), "\n"), "\n")
	checks := map[string]doctorLine{}
	var order []string
	for _, l := range lines[:len(lines)-1] {
		f := strings.Fields(l)
		if len(f) < 3 || f[0] == "fix:" {
			continue
		}
		checks[f[1]] = doctorLine{f[0], strings.Join(f[2:], " ")}
		order = append(order, f[1])
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("httptrace doctor (exit %d):\n%s", code, stdout)
		}
	})
	return code, checks, order, lines[len(lines)-1]
}

// withoutCaps runs httptrace as root without the capabilities named (as
// setpriv names them: perfmon, sys_admin).
func withoutCaps(caps ...string) func(string, []string) *exec.Cmd {
	drop := "-" + strings.Join(caps, ",-")
	return func(bin string, args []string) *exec.Cmd {
		return exec.Command("setpriv", append([]string{"--bounding-set=" + drop, "--inh-caps=" + drop, bin}, args...)...)
	}
}

// withTracefsUnmounted runs httptrace in a private mount namespace with
// tracefs unmounted, keeping every capability.
func withTracefsUnmounted(bin string, args []string) *exec.Cmd {
	script := `while umount /sys/kernel/tracing 2>/dev/null; do :; done
while umount /sys/kernel/debug/tracing 2>/dev/null; do :; done
exec "$@"`
	return exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", bin}, args...)...)
}

// withLowMemlock runs httptrace with RLIMIT_MEMLOCK at 64 KiB, soft and
// hard, and without CAP_SYS_RESOURCE to raise it.
func withLowMemlock(bin string, args []string) *exec.Cmd {
	return exec.Command("prlimit", append([]string{"--memlock=65536:65536", "setpriv",
		"--bounding-set=-sys_resource", "--inh-caps=-sys_resource", bin}, args...)...)
}

func TestDoctor(t *testing.T) {
	harness.RequireRoot(t)
	release := kernel.DefaultHost.Release
	charged := !kernel.AtLeast(release, 5, 11) // BPF maps charged to RLIMIT_MEMLOCK
	cases := []struct {
		name string
		wrap func(string, []string) *exec.Cmd
		fail []string          // the checks that must fail, and no other
		want map[string]string // check: status and a word of its detail
	}{
		{name: "root", want: map[string]string{"bpf": "ok probes attach", "CAP_BPF": "ok held", "tracefs": "ok mounted"}},
		{name: "nobody", wrap: asNobody, fail: []string{"CAP_BPF", "CAP_PERFMON", "tracefs"},
			want: map[string]string{"tracefs": "FAIL may not read", "bpf": "warn not loaded"}},
		{name: "no CAP_PERFMON", wrap: withoutCaps("perfmon", "sys_admin"), fail: []string{"CAP_PERFMON"},
			want: map[string]string{"CAP_BPF": "ok held", "perf_event_paranoid": "warn override", "bpf": "warn not loaded"}},
		{name: "no tracefs, no CAP_SYS_ADMIN", wrap: withoutTracefs, fail: []string{"tracefs"},
			want: map[string]string{"CAP_SYS_ADMIN": "warn mounting tracefs", "tracefs": "FAIL may not mount"}},
		{name: "no tracefs", wrap: withTracefsUnmounted,
			want: map[string]string{"tracefs": "warn mounts it when it starts", "bpf": "warn not loaded"}},
	}
	low := struct {
		name string
		wrap func(string, []string) *exec.Cmd
		fail []string
		want map[string]string
	}{name: "low memlock", wrap: withLowMemlock, want: map[string]string{"memlock": "ok 64 KiB", "bpf": "ok probes attach"}}
	if charged {
		// 64 KiB is too little for the maps: they do not load.
		low.fail, low.want = []string{"bpf"}, map[string]string{"memlock": "warn hard limit only", "bpf": "FAIL loading"}
	}
	cases = append(cases, low)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, checks, order, last := runDoctor(t, tc.wrap)
			if strings.Join(order, " ") != strings.Join(doctorChecks, " ") {
				t.Errorf("checks %v, want %v", order, doctorChecks)
			}
			var failed []string
			for _, name := range order {
				if checks[name].status == "FAIL" {
					failed = append(failed, name)
				}
			}
			if strings.Join(failed, ",") != strings.Join(tc.fail, ",") {
				t.Errorf("failed checks %v, want %v", failed, tc.fail)
			}
			wantCode, wantLast := 0, "tracing would work"
			switch {
			case len(tc.fail) > 0:
				wantCode, wantLast = 1, "tracing would not work: "
			case checks["bpf"].status != "ok":
				wantLast = "no check failed, but the programs were not loaded"
			}
			if code != wantCode || !strings.HasPrefix(last, wantLast) {
				t.Errorf("exit %d, last line %q; want %d, %q", code, last, wantCode, wantLast)
			}
			for name, want := range tc.want {
				status, word, _ := strings.Cut(want, " ")
				if got := checks[name]; got.status != status || !strings.Contains(got.detail, word) {
					t.Errorf("%s: %s %q, want %s and %q", name, got.status, got.detail, status, word)
				}
			}
		})
	}
}

// TestDoctorRuntime: the container runtime check finds a real containerd
// at the socket named; with none answering it warns (containers known by
// ID alone) and tracing would work, unless the configuration selects pods
// (or containers by name), which then fails it.
func TestDoctorRuntime(t *testing.T) {
	harness.RequireRoot(t)
	cd := harness.StartContainerd(t)
	code, checks, _, _ := runDoctor(t, nil, "--runtime-socket", cd.Socket)
	if r := checks["container_runtime"]; code != 0 || r.status != "ok" || !strings.Contains(r.detail, "containerd answers at "+cd.Socket) {
		t.Errorf("with containerd at %s: exit %d, container_runtime %s %q", cd.Socket, code, r.status, r.detail)
	}
	gone := filepath.Join(t.TempDir(), "none.sock")
	code, checks, _, _ = runDoctor(t, nil, "--runtime-socket", gone)
	if r := checks["container_runtime"]; code != 0 || r.status != "warn" || !strings.Contains(r.detail, "known by ID alone") {
		t.Errorf("with no runtime: exit %d, container_runtime %s %q; want warn, exit 0", code, r.status, r.detail)
	}
	cfg := filepath.Join(t.TempDir(), "pods.yaml")
	if err := os.WriteFile(cfg, []byte("pods: [shop/web-0]\nruntime_socket: "+gone+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, checks, _, last := runDoctor(t, nil, "-c", cfg)
	if r := checks["container_runtime"]; code != 1 || r.status != "FAIL" || !strings.Contains(last, "container_runtime") {
		t.Errorf("pods selected, no runtime: exit %d, container_runtime %s %q, last line %q; want it failed, exit 1", code, r.status, r.detail, last)
	}
}
