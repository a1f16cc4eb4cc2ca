package e2e

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
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

// TestContainerSelection traces a podman container by its name, through
// podman's API: the server it runs, the new server after a restart (a new
// process in a new cgroup), and a server started in it with podman exec (a
// process no traced one forked, traced at its exec by its cgroup). A twin
// container on the same image, with a server exec'd into it too, is not
// traced. Every record names the container and the host PID that served.
func TestContainerSelection(t *testing.T) {
	sock := harness.StartPodmanService(t)
	name := harness.NewID("sel")
	ctr := harness.RunPodmanGoServer(t, name, harness.FreeAddr(t))
	twin := harness.RunPodmanGoServer(t, harness.NewID("twin"), harness.FreeAddr(t))
	metricsAddr := harness.FreeAddr(t)
	tr := harness.StartTracer(t, harness.Mode(), nil, "--container", name, "--runtime-socket", sock, "--metrics-addr", metricsAddr)

	var sent []harness.Sent
	send := func(addr, what string, n, hostPID int) []harness.Sent {
		return sendToContainer(t, addr, what, n, hostPID)
	}
	sent = append(sent, send(ctr.Addr, "sel", 3, ctr.HostPID)...)
	send(twin.Addr, "twin", 3, 0) // not to be logged

	firstPID := ctr.HostPID
	ctr.Restart(t)
	if ctr.HostPID == firstPID {
		t.Fatalf("podman restart kept PID %d", firstPID)
	}
	// The restart is followed once the runtime's event has come.
	tr.WaitLine(t, true, func(l string) bool {
		return strings.Contains(l, `"msg":"container traced"`) && strings.Contains(l, fmt.Sprintf(`"pid":%d,`, ctr.HostPID))
	}, waitForLogs)
	sent = append(sent, send(ctr.Addr, "restarted", 3, ctr.HostPID)...)

	// Servers exec'd into each: the selected one's is traced from its exec.
	execAddr, twinExecAddr := harness.FreeAddr(t), harness.FreeAddr(t)
	ctr.Exec(t, execAddr)
	twin.Exec(t, twinExecAddr)
	sent = append(sent, send(execAddr, "exec", 2, 0)...)
	send(twinExecAddr, "twin-exec", 2, 0)

	// The metrics count each exchange under the container's labels.
	tr.WaitFor(t, waitForLogs, harness.AllLogged(sent))
	counted := metricCount(t, metricsAddr, `container_id="`+ctr.ID+`"`, `container_name="`+name+`"`)
	if counted != len(sent) {
		t.Errorf("http_server_request_duration_seconds_count under container %s: %d, want %d", name, counted, len(sent))
	}

	good := finish(t, tr, "", sent)
	for _, r := range tr.Records(t) {
		if r.ContainerName != name || r.ContainerID != ctr.ID {
			delete(good, r.Header(harness.IDHeader))
			t.Errorf("record of container %q (%s), want %q (%s): %s", r.ContainerName, r.ContainerID, name, ctr.ID, r.Line)
		}
		if r.Server == twin.Addr || r.Server == twinExecAddr {
			t.Errorf("the twin container's exchange logged: %s", r.Line)
		}
	}
	harness.Result("container-select", tr.Mode, good, sent)
}

// sendToContainer sends n GETs to the Go test server at addr, in a
// container whose host PID is hostPID (0: not checked: the server says
// its PID in the container, the records the host's).
func sendToContainer(t *testing.T, addr, what string, n, hostPID int) []harness.Sent {
	t.Helper()
	var out []harness.Sent
	c := harness.NewClient(false)
	for i := 0; i < n; i++ {
		id := harness.NewID(what)
		a := c.Do(t, "GET", "http://"+addr+"/ok/"+id, "", map[string]string{harness.IDHeader: id})
		if a.Status != 200 {
			t.Fatalf("%s answered %d", addr, a.Status)
		}
		a.ServerPID = hostPID
		out = append(out, harness.Sent{ID: id, Method: "GET", Path: "/ok/" + id, Answer: a, Server: addr})
	}
	return out
}

// metricCount sums the server duration counts the metrics endpoint at
// addr gives on the series carrying every one of labels (name="value").
func metricCount(t *testing.T, addr string, labels ...string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(line, "http_server_request_duration_seconds_count{") ||
			slices.ContainsFunc(labels, func(l string) bool { return !strings.Contains(line, l) }) {
			continue
		}
		v, err := strconv.Atoi(line[strings.LastIndexByte(line, ' ')+1:])
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		n += v
	}
	return n
}
