// Containers for the tests: the stripped Go test server in a podman
// container, from an image built here FROM scratch (nothing is pulled).

package harness

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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
	podman := ensureImage(t)
	name := fmt.Sprintf("httptrace-test-%d-%d", os.Getpid(), idSeq.Add(1))
	t.Cleanup(func() { exec.Command(podman, "rm", "-f", "-t", "0", name).Run() })
	args := append(append([]string(nil), podmanRun...), "--name", name, "--tmpfs", "/tmp", "--network", "host",
		testImage, "127.0.0.1:0")
	srv := startServer(t, exec.Command(podman, args...))
	c := &Container{Server: srv, Name: name}
	c.inspect(t, podman)
	return c
}

// ensureImage builds the test image once per run.
func ensureImage(t testing.TB) string {
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
	return podman
}

// RunPodmanGoServer runs the Go test server in a detached podman container
// named name (kept when it stops, so that it can be restarted), on the
// host's network at addr, and returns it once addr accepts connections.
func RunPodmanGoServer(t testing.TB, name, addr string) *Container {
	t.Helper()
	podman := ensureImage(t)
	t.Cleanup(func() { exec.Command(podman, "rm", "-f", "-t", "0", name).Run() })
	run := append([]string(nil), podmanRun...)
	run = slices.DeleteFunc(run, func(a string) bool { return a == "--rm" })
	args := append(run, "-d", "--name", name, "--tmpfs", "/tmp", "--network", "host", testImage, addr)
	if out, err := exec.Command(podman, args...).CombinedOutput(); err != nil {
		t.Fatalf("podman run %s: %v: %s", name, err, out)
	}
	WaitListening(t, addr)
	c := &Container{Server: &Server{Addr: addr}, Name: name}
	c.inspect(t, podman)
	return c
}

func (c *Container) inspect(t testing.TB, podman string) {
	t.Helper()
	out, err := exec.Command(podman, "inspect", "--format", "{{.State.Pid}} {{.Id}}", c.Name).Output()
	f := strings.Fields(string(out))
	if err != nil || len(f) != 2 {
		t.Fatalf("podman inspect %s: %v: %q", c.Name, err, out)
	}
	if c.HostPID, err = strconv.Atoi(f[0]); err != nil || c.HostPID <= 0 {
		t.Fatalf("podman inspect %s: PID %q", c.Name, f[0])
	}
	c.ID = f[1]
}

// Restart restarts the container (a new process, in a new cgroup) and
// waits until it listens again.
func (c *Container) Restart(t testing.TB) {
	t.Helper()
	podman := NeedBinary(t, "podman")
	if out, err := exec.Command(podman, "restart", "-t", "0", c.Name).CombinedOutput(); err != nil {
		t.Fatalf("podman restart %s: %v: %s", c.Name, err, out)
	}
	WaitListening(t, c.Addr)
	c.inspect(t, podman)
}

// Exec starts another Go test server in the container, listening at addr,
// as podman exec does (a process no traced one forked), and waits until it
// listens.
func (c *Container) Exec(t testing.TB, addr string) {
	t.Helper()
	podman := NeedBinary(t, "podman")
	if out, err := exec.Command(podman, "exec", "-d", c.Name, "/goserver", addr).CombinedOutput(); err != nil {
		t.Fatalf("podman exec %s: %v: %s", c.Name, err, out)
	}
	WaitListening(t, addr)
}

// WaitListening waits until addr accepts TCP connections.
func WaitListening(t testing.TB, addr string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens at %s after 30 s: %v", addr, err)
		}
	}
}

// StartPodmanService serves podman's API (Docker's too) on a socket of the
// test's own, and returns its path once it answers.
func StartPodmanService(t testing.TB) string {
	t.Helper()
	podman := NeedBinary(t, "podman")
	sock := filepath.Join(t.TempDir(), "podman.sock")
	Start(t, exec.Command(podman, "system", "service", "--time=0", "unix://"+sock))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		conn, err := net.Dial("unix", sock)
		if err == nil {
			conn.Close()
			return sock
		}
		if time.Now().After(deadline) {
			t.Fatalf("podman system service: no socket at %s after 30 s: %v", sock, err)
		}
	}
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
