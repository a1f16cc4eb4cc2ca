package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/container"
	"github.com/httptrace/httptrace/pkg/preflight"
	"github.com/httptrace/httptrace/test/harness"
)

// ImageEnv names httptrace's image to run (make test-deploy builds it).
const ImageEnv = "HTTPTRACE_IMAGE"

// capNumbers are the capabilities the DaemonSet may add, by number.
var capNumbers = map[string]uint{"DAC_READ_SEARCH": 2, "SYS_PTRACE": 19, "SYS_ADMIN": 21, "SYS_RESOURCE": 24, "PERFMON": 38, "BPF": 39}

// boundingSet is this process's capability bounding set: a container
// cannot be given one outside it.
func boundingSet(t *testing.T) uint64 {
	t.Helper()
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if hex, ok := strings.CutPrefix(line, "CapBnd:"); ok {
			v, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
	}
	t.Fatal("no CapBnd in /proc/self/status")
	return 0
}

// podmanRun is `podman run` with the DaemonSet's security context, read
// from the manifest: host PID namespace, every capability dropped and its
// list added (less those outside this machine's bounding set, said in the
// log), a read-only root, uid 0, no privilege escalation, its seccomp
// profile (unless withSeccomp, which keeps podman's default filter) and
// its host mounts. The rlimits are lowered explicitly: raising one needs
// CAP_SYS_RESOURCE.
func podmanRun(t *testing.T, image string, withSeccomp bool, args ...string) *exec.Cmd {
	t.Helper()
	return podmanRunFrom(t, image, withSeccomp, nil, args...)
}

// podmanRunFrom is podmanRun with some host paths of the mounts replaced
// (from: the manifest's host path -> the one mounted instead).
func podmanRunFrom(t *testing.T, image string, withSeccomp bool, from map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	podman := harness.NeedBinary(t, "podman")
	spec, mounts := daemonSet(t)
	sc := spec.Containers[0].SecurityContext
	run := []string{"run", "--rm", "--runtime", "runc", "--cgroup-manager=cgroupfs",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}
	if spec.HostPID {
		run = append(run, "--pid=host")
	}
	for _, c := range sc.Capabilities.Drop {
		run = append(run, "--cap-drop="+c)
	}
	bnd := boundingSet(t)
	var add []string
	for _, c := range sc.Capabilities.Add {
		n, ok := capNumbers[c]
		if !ok {
			t.Fatalf("capability %s: unknown to the test", c)
		}
		if bnd&(1<<n) == 0 {
			t.Logf("CAP_%s is not in this machine's bounding set: left out", c)
			continue
		}
		add = append(add, c)
	}
	run = append(run, "--cap-add="+strings.Join(add, ","))
	if sc.ReadOnlyRootFilesystem {
		run = append(run, "--read-only")
	}
	if sc.RunAsUser != nil {
		run = append(run, "--user", strconv.Itoa(*sc.RunAsUser))
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		run = append(run, "--security-opt", "no-new-privileges")
	}
	if sc.SeccompProfile.Type == "Unconfined" && !withSeccomp {
		run = append(run, "--security-opt", "seccomp=unconfined")
	}
	for _, m := range mounts {
		if h, ok := from[m.host]; ok {
			m.host = h
		}
		if m.create { // as the kubelet does
			if err := os.MkdirAll(m.host, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		v := m.host + ":" + m.path
		if m.readOnly {
			v += ":ro"
		}
		run = append(run, "-v", v)
	}
	return exec.Command(podman, append(append(run, image), args...)...)
}

func image(t *testing.T) string {
	t.Helper()
	harness.RequireRoot(t)
	img := os.Getenv(ImageEnv)
	if img == "" {
		msg := ImageEnv + " is not set (make test-deploy builds the image and sets it)"
		if os.Getenv(harness.RequireAllEnv) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return img
}

// runDoctor runs httptrace doctor in the image and returns its exit
// status and report.
func runDoctor(t *testing.T, cmd *exec.Cmd) (int, string) {
	t.Helper()
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("doctor in the image did not end within 60 s:\n%s", out)
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, string(out)
}

// TestImageDoctor: httptrace doctor in the image, with the DaemonSet's
// security context and mounts, finds that tracing would work (the
// programs load and attach) and reaches containerd through the mount of
// its socket's directory (a containerd of the test's, whose directory is
// mounted there instead of the host's); with podman's default seccomp
// filter kept, the load fails and the doctor names the filter.
func TestImageDoctor(t *testing.T) {
	img := image(t)
	cd := harness.StartContainerdIn(t, "containerd.sock")
	own := map[string]string{preflight.ContainerdDir: filepath.Dir(cd.Socket)}
	code, out := runDoctor(t, podmanRunFrom(t, img, false, own, "doctor"))
	if code != 0 || !strings.Contains(out, "\nok    bpf ") || !strings.HasSuffix(out, "tracing would work\n") ||
		!regexp.MustCompile(`\nok +container_runtime +containerd answers at `+regexp.QuoteMeta(container.ContainerdSocket)).MatchString(out) {
		t.Errorf("doctor with the DaemonSet's context: exit %d, want 0 with bpf and container_runtime ok\n%s", code, out)
	}
	code, out = runDoctor(t, podmanRun(t, img, true, "doctor"))
	if code != 1 || !strings.Contains(out, "\nFAIL  bpf ") || !strings.Contains(out, "seccomp=unconfined") {
		t.Errorf("doctor under podman's default seccomp filter: exit %d, want 1 with bpf failed and the filter named\n%s", code, out)
	}
}

// TestImageTracesHostProcess: the image, run with exactly the DaemonSet's
// security context, traces a Go server on the host by its PID.
func TestImageTracesHostProcess(t *testing.T) {
	img := image(t)
	srv := harness.StartGoServer(t)
	tr := harness.StartTracerCmd(t, podmanRun(t, img, false, "--pid", strconv.Itoa(srv.PID()),
		"--attach", harness.Mode(), "--log-format", "json"))
	var sent []harness.Sent
	for _, keep := range []bool{false, true} {
		c := harness.NewClient(keep)
		for i := 0; i < 3; i++ {
			id := harness.NewID("image")
			path := fmt.Sprintf("/ok/%s", id)
			a := c.Do(t, "GET", srv.URL(path), "", map[string]string{harness.IDHeader: id})
			sent = append(sent, harness.Sent{ID: id, Method: "GET", Path: path, Answer: a, Server: srv.Addr})
		}
	}
	tr.WaitFor(t, 15*time.Second, harness.AllLogged(sent))
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	good := harness.Check(t, recs, sent)
	harness.CheckSummary(t, sum, recs)
	harness.Result("image", tr.Mode, good, sent)
}
