// Containers for the tests: the stripped Go test server in a podman
// container, from an image built here FROM scratch (nothing is pulled).

package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// testImage is the image of the Go test server, built once per test run.
const testImage = "localhost/httptrace-test-goserver:latest"

var buildImage sync.Once
var buildErr error

// podmanRun is how the tests run a container on these machines: runc (crun
// refuses the hybrid cgroup layout), the cgroupfs manager, and rlimits
// lowered explicitly (raising one needs CAP_SYS_RESOURCE).
var podmanRun = []string{"run", "--rm", "--runtime", "runc", "--cgroup-manager=cgroupfs",
	"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}

// Container is a test server running in a podman container.
type Container struct {
	*Server
	Name    string
	ID      string // the full container ID podman gives
	HostPID int    // the server's PID in the host's PID namespace
}

// StartPodmanGoServer runs the stripped Go test server as PID 1 of a new
// podman container on the host's network, and returns it once it listens.
func StartPodmanGoServer(t testing.TB) *Container {
	t.Helper()
	podman := NeedBinary(t, "podman")
	RequireRoot(t)
	bin := os.Getenv(StrippedGoServerEnv)
	if bin == "" {
		t.Fatalf("%s is not set (make test sets it to bin/goserver-stripped)", StrippedGoServerEnv)
	}
	buildImage.Do(func() { buildErr = buildTestImage(podman, bin) })
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	name := fmt.Sprintf("httptrace-test-%d-%d", os.Getpid(), idSeq.Add(1))
	t.Cleanup(func() { exec.Command(podman, "rm", "-f", "-t", "0", name).Run() })
	args := append(append([]string(nil), podmanRun...), "--name", name, "--tmpfs", "/tmp", "--network", "host",
		testImage, "127.0.0.1:0")
	srv := startServer(t, exec.Command(podman, args...))
	out, err := exec.Command(podman, "inspect", "--format", "{{.State.Pid}} {{.Id}}", name).Output()
	if err != nil {
		t.Fatalf("podman inspect %s: %v", name, err)
	}
	f := strings.Fields(string(out))
	if len(f) != 2 {
		t.Fatalf("podman inspect %s: %q", name, out)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		t.Fatalf("podman inspect %s: PID %q", name, f[0])
	}
	return &Container{Server: srv, Name: name, ID: f[1], HostPID: pid}
}

// buildTestImage builds testImage: the server binary alone, FROM scratch.
func buildTestImage(podman, bin string) error {
	dir, err := os.MkdirTemp("", "httptrace-image")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	data, err := os.ReadFile(bin)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "goserver"), data, 0o755); err != nil {
		return err
	}
	file := "FROM scratch\nCOPY goserver /goserver\nENTRYPOINT [\"/goserver\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Containerfile"), []byte(file), 0o644); err != nil {
		return err
	}
	cmd := exec.Command(podman, "build", "-q", "-t", testImage, dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers are killed with it
	done := make(chan struct{})
	var out []byte
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return fmt.Errorf("podman build: no image after 2 minutes: %s", out)
	}
	if err != nil {
		return fmt.Errorf("podman build: %v: %s", err, out)
	}
	return nil
}
