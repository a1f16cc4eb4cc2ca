package e2e

import (
	"testing"

	"github.com/httptrace/httptrace/test/harness"
)

// TestContainerIdentity traces, in one run, the Go test server as PID 1 of
// a podman container (named by its host PID) and the Go test server on the
// host: each exchange of the container carries its full ID and the
// server's PID in the container, read from the process's cgroup; the
// host's exchanges carry neither.
func TestContainerIdentity(t *testing.T) {
	ctr := harness.StartPodmanGoServer(t)
	host := harness.StartGoServer(t)
	tr := trace(t, ctr.HostPID, host.PID())
	in := traffic(t, ctr.Addr, appPaths, "ctr")
	for i := range in {
		// The server names itself by its PID in the container.
		if in[i].ServerPID != 1 {
			t.Fatalf("the container's server says it is pid %d, want 1", in[i].ServerPID)
		}
		in[i].ServerPID = ctr.HostPID
	}
	out := traffic(t, host.Addr, appPaths, "host")
	all := append(in, out...)
	good := finish(t, tr, "", all)
	byID := map[string]bool{}
	for _, s := range in {
		byID[s.ID] = true
	}
	n := 0
	for _, r := range tr.Records(t) {
		id := r.Header(harness.IDHeader)
		switch {
		case byID[id] && (r.ContainerID != ctr.ID || r.ContainerPID != 1 || r.PID != ctr.HostPID):
			delete(good, id)
			t.Errorf("container %s (host pid %d): record of pid %d with container_id %q, container_pid %d\n%s",
				ctr.ID, ctr.HostPID, r.PID, r.ContainerID, r.ContainerPID, r.Line)
		case !byID[id] && (r.ContainerID != "" || r.ContainerPID != 0):
			delete(good, id)
			t.Errorf("host process %d: record with container_id %q, container_pid %d\n%s", r.PID, r.ContainerID, r.ContainerPID, r.Line)
		case byID[id]:
			n++
		}
	}
	if n != len(in) {
		t.Errorf("%d of the container's %d exchanges labelled", n, len(in))
	}
	harness.Result("container", tr.Mode, good, all)
}
