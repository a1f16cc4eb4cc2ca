// Containers and pods through containerd, the runtime of Kubernetes nodes.
package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/container"
	"github.com/httptrace/httptrace/test/harness"
)

// TestPodSelection: containerd runs containers as the kubelet does
// (namespace k8s.io, the kubelet's labels, a 64-digit ID): pod shop/web-0's
// server and its sandbox (labelled as the CRI labels a pause container),
// pod shop/web-1's, and pod other/web-0's. httptrace --pod shop/web-0,
// given containerd's socket, traces the first pod's server alone, and
// labels each exchange with the pod's namespace, name and container (the
// metrics too). When the container is replaced (the kubelet restarts one
// as a new container, a new ID) after the runtime's second listing, the
// new one is traced from its start event.
func TestPodSelection(t *testing.T) {
	cd := harness.StartContainerd(t)
	web0 := cd.RunPodServer(t, "shop", "web-0", "server", harness.FreeAddr(t))
	web1 := cd.RunPodServer(t, "shop", "web-1", "server", harness.FreeAddr(t))
	sandbox := cd.RunPodServer(t, "shop", "web-0", "POD", harness.FreeAddr(t), "io.cri-containerd.kind=sandbox")
	elsewhere := cd.RunPodServer(t, "other", "web-0", "server", harness.FreeAddr(t))
	metricsAddr := harness.FreeAddr(t)
	tr := harness.StartTracer(t, harness.Mode(), nil, "--pod", "shop/web-0", "--runtime-socket", cd.Socket, "--metrics-addr", metricsAddr)

	send := func(addr, what string, n, hostPID int) []harness.Sent {
		return sendToContainer(t, addr, what, n, hostPID)
	}
	sent := send(web0.Addr, "pod", 3, web0.HostPID)
	for _, other := range []*harness.PodContainer{web1, sandbox, elsewhere} {
		send(other.Addr, "other", 2, 0) // not to be logged
	}
	ids := map[string]bool{web0.ID: true}

	// After the second listing, a start is found by its event alone.
	time.Sleep(container.RelistFirst + 500*time.Millisecond)

	// The kubelet replaces the container: the old one goes, a new one (a
	// new ID) of the same pod starts.
	cd.Remove(t, web0.ID)
	again := cd.RunPodServer(t, "shop", "web-0", "server", harness.FreeAddr(t))
	ids[again.ID] = true
	tr.WaitLine(t, true, func(l string) bool {
		return strings.Contains(l, `"msg":"container traced"`) && strings.Contains(l, fmt.Sprintf(`"pid":%d,`, again.HostPID))
	}, waitForLogs)
	sent = append(sent, send(again.Addr, "replaced", 3, again.HostPID)...)

	// The metrics count each exchange under the pod's labels.
	tr.WaitFor(t, waitForLogs, harness.AllLogged(sent))
	if n := metricCount(t, metricsAddr, `k8s_namespace_name="shop"`, `k8s_pod_name="web-0"`, `container_name="server"`); n != len(sent) {
		t.Errorf("http_server_request_duration_seconds_count under pod shop/web-0: %d, want %d", n, len(sent))
	}
	good := finish(t, tr, "", sent)
	for _, r := range tr.Records(t) {
		if !ids[r.ContainerID] || r.K8sNamespace != "shop" || r.K8sPod != "web-0" || r.K8sContainer != "server" ||
			r.ContainerName != "server" || r.ContainerPID != 1 {
			delete(good, r.Header(harness.IDHeader))
			t.Errorf("not labelled as container server of pod shop/web-0 (%s or %s): %s", web0.ID, again.ID, r.Line)
		}
		if r.Server == web1.Addr || r.Server == sandbox.Addr || r.Server == elsewhere.Addr {
			t.Errorf("another pod's, the sandbox's or another namespace's exchange logged: %s", r.Line)
		}
	}
	harness.Result("pod-select", tr.Mode, good, sent)
}

// TestPodNamesByPort: processes selected by port, not by pod, are named
// from the runtime all the same: a pod's server running when httptrace
// starts (from the runtime's listing) and one started after (from its
// start event) have their exchanges labelled with pod, namespace and
// container.
func TestPodNamesByPort(t *testing.T) {
	cd := harness.StartContainerd(t)
	before := cd.RunPodServer(t, "shop", "web-1", "server", harness.FreeAddr(t))
	laterAddr := harness.FreeAddr(t)
	tr := harness.StartTracer(t, harness.Mode(), nil, "--port", portOf(t, before.Addr), "--port", portOf(t, laterAddr),
		"--runtime-socket", cd.Socket)
	sent := sendToContainer(t, before.Addr, "running", 2, before.HostPID)
	later := cd.RunPodServer(t, "other", "api-0", "backend", laterAddr)
	tr.WaitFor(t, waitForLogs, harness.AllLogged(sent))
	want := map[string]*harness.PodContainer{before.Addr: before, later.Addr: later}
	sent = append(sent, sendToContainer(t, later.Addr, "started", 2, later.HostPID)...)
	good := finish(t, tr, "", sent)
	pods := map[string]string{before.ID: "shop/web-1/server", later.ID: "other/api-0/backend"}
	for _, r := range tr.Records(t) {
		c := want[r.Server]
		if c == nil {
			continue
		}
		if got := r.K8sNamespace + "/" + r.K8sPod + "/" + r.ContainerName; r.ContainerID != c.ID || got != pods[c.ID] {
			delete(good, r.Header(harness.IDHeader))
			t.Errorf("container %s named %s, want %s %s: %s", r.ContainerID, got, c.ID, pods[c.ID], r.Line)
		}
	}
	harness.Result("pod-names", tr.Mode, good, sent)
}
