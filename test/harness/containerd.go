// A real containerd for the tests, driven with ctr as the kubelet drives
// it through the CRI: containers in the k8s.io namespace, with the labels
// the kubelet puts on a pod's containers. Nothing is pulled: the image is
// the podman tests' own (the stripped Go test server FROM scratch),
// saved as an OCI archive and imported with ctr.

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
	Socket   string
	ctr      string
	imported bool // the test image is in its image store
}

// containerdSnapshotter unpacks the image: native copies files, and needs
// no overlay mount on whatever file system holds the test's directory.
const containerdSnapshotter = "native"

// StartContainerd runs containerd and waits until it answers.
func StartContainerd(t testing.TB) *Containerd {
	t.Helper()
	return StartContainerdIn(t, "containerd.sock")
}

// StartContainerdIn runs containerd serving its API at a socket named
// socket in a directory that holds its sockets alone (so that it can be
// mounted where a runtime's socket is looked for), and waits until it
// answers.
func StartContainerdIn(t testing.TB, socket string) *Containerd {
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
	sockets := filepath.Join(dir, "run")
	if err := os.Mkdir(sockets, 0o711); err != nil {
		t.Fatal(err)
	}
	c.Socket = filepath.Join(sockets, socket)
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
	c.importImage(t)
	raw := make([]byte, 32)
	rand.Read(raw)
	p := &PodContainer{Server: &Server{Addr: addr}, ID: hex.EncodeToString(raw)}
	t.Cleanup(func() { c.Remove(t, p.ID) })
	args := []string{"run", "--detach", "--snapshotter", containerdSnapshotter, "--net-host",
		"--mount", "type=tmpfs,src=tmpfs,dst=/tmp,options=nosuid:nodev",
		"--label", "io.kubernetes.pod.namespace=" + namespace, "--label", "io.kubernetes.pod.name=" + pod,
		"--label", "io.kubernetes.container.name=" + name, "--label", "io.kubernetes.pod.uid=0f3c6a4e-1b2d-4c5e-8f90-" + p.ID[:12]}
	for _, l := range labels {
		args = append(args, "--label", l)
	}
	out, err := c.run(append(args, testImage, p.ID, "/goserver", addr)...)
	if err != nil {
		t.Fatalf("ctr run (pod %s/%s, container %s): %v: %s", namespace, pod, name, err, out)
	}
	WaitListening(t, addr)
	p.HostPID = c.taskPID(t, p.ID)
	return p
}

// importImage puts the test image (built by podman) into containerd's
// store in the k8s.io namespace, once: podman saves it as an OCI archive
// and ctr imports that, as an image reaches a node without a registry.
func (c *Containerd) importImage(t testing.TB) {
	t.Helper()
	if c.imported {
		return
	}
	podman := ensureImage(t)
	archive := filepath.Join(t.TempDir(), "goserver.oci.tar")
	if out, err := exec.Command(podman, "save", "--format", "oci-archive", "-o", archive, testImage).CombinedOutput(); err != nil {
		t.Fatalf("podman save %s: %v: %s", testImage, err, out)
	}
	if out, err := c.run("images", "import", "--snapshotter", containerdSnapshotter, archive); err != nil {
		t.Fatalf("ctr images import: %v: %s", err, out)
	}
	c.imported = true
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
