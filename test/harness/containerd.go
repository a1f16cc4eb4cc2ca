// A real containerd for the tests, driven with ctr as the kubelet drives
// it through the CRI: containers in the k8s.io namespace, with the labels
// the kubelet puts on a pod's containers. Nothing is pulled: a container's
// root is a directory holding the stripped Go test server.

package harness

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Containerd is a containerd started for one test: its own root, state
// and socket, the CRI plugin off (no kubelet talks to it).
type Containerd struct {
	*Proc
	Socket string
	ctr    string
}

// StartContainerd runs containerd and waits until it answers.
func StartContainerd(t testing.TB) *Containerd {
	t.Helper()
	RequireRoot(t)
	bin := NeedBinary(t, "containerd")
	c := &Containerd{ctr: NeedBinary(t, "ctr")}
	NeedBinary(t, "runc")
	NeedBinary(t, "containerd-shim-runc-v2")
	dir, err := os.MkdirTemp("", "httptrace-containerd")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c.Socket = filepath.Join(dir, "containerd.sock")
	conf := filepath.Join(dir, "config.toml")
	toml := fmt.Sprintf("version = 2\nroot = %q\nstate = %q\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n"+
		"[grpc]\n  address = %q\n[ttrpc]\n  address = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.Socket, c.Socket+".ttrpc")
	if err := os.WriteFile(conf, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	c.Proc = Start(t, exec.Command(bin, "--config", conf, "--log-level", "warn"))
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.run("version")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd not answering at %s after 30s: %v: %s\n%s", c.Socket, err, out, c.Stderr())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return c
}

// run runs ctr against this containerd, in the kubelet's namespace.
func (c *Containerd) run(args ...string) ([]byte, error) {
	return exec.Command(c.ctr, append([]string{"--address", c.Socket, "--namespace", "k8s.io"}, args...)...).CombinedOutput()
}

// PodContainer is a container of a pod, as the kubelet labels it, running
// the Go test server.
type PodContainer struct {
	*Server
	ID      string // 64 hex digits, as the CRI's
	HostPID int
}

// RunPodServer runs the stripped Go test server, listening at addr on the
// host's network, as container name of pod namespace/pod (with labels,
// key=value, added), and waits until it listens. It is removed when the
// test ends.
func (c *Containerd) RunPodServer(t testing.TB, namespace, pod, name, addr string, labels ...string) *PodContainer {
	t.Helper()
	bin := os.Getenv(StrippedGoServerEnv)
	if bin == "" {
		t.Fatalf("%s is not set (make test sets it to bin/goserver-stripped)", StrippedGoServerEnv)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	rootfs := t.TempDir()
	if err := os.WriteFile(filepath.Join(rootfs, "goserver"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(rootfs, "tmp"), 0o1777); err != nil {
		t.Fatal(err)
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	p := &PodContainer{Server: &Server{Addr: addr}, ID: hex.EncodeToString(raw)}
	t.Cleanup(func() { c.Remove(t, p.ID) })
	args := []string{"run", "--detach", "--rootfs", "--net-host",
		"--label", "io.kubernetes.pod.namespace=" + namespace, "--label", "io.kubernetes.pod.name=" + pod,
		"--label", "io.kubernetes.container.name=" + name, "--label", "io.kubernetes.pod.uid=0f3c6a4e-1b2d-4c5e-8f90-" + p.ID[:12]}
	for _, l := range labels {
		args = append(args, "--label", l)
	}
	out, err := c.run(append(args, rootfs, p.ID, "/goserver", addr)...)
	if err != nil {
		t.Fatalf("ctr run (pod %s/%s, container %s): %v: %s", namespace, pod, name, err, out)
	}
	WaitListening(t, addr)
	p.HostPID = c.taskPID(t, p.ID)
	return p
}

// taskPID is the host PID of container id's task (ctr task ls).
func (c *Containerd) taskPID(t testing.TB, id string) int {
	t.Helper()
	out, err := c.run("task", "ls")
	if err != nil {
		t.Fatalf("ctr task ls: %v: %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == id {
			pid, err := strconv.Atoi(f[1])
			if err == nil && pid > 0 {
				return pid
			}
		}
	}
	t.Fatalf("no task of container %s in ctr task ls:\n%s", id, out)
	return 0
}

// Remove kills container id's task and deletes the container, as the
// kubelet does when it replaces one (a restart is a new container).
func (c *Containerd) Remove(t testing.TB, id string) {
	t.Helper()
	c.run("task", "kill", "--signal", "SIGKILL", id)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := c.run("task", "delete", id); err == nil {
			break
		}
	}
	c.run("container", "delete", id)
}
