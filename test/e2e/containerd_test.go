// Containers and pods through containerd, the runtime of Kubernetes nodes.
package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/test/harness"
)

// TestPodSelection: containerd runs the containers of two pods as the
// kubelet does (namespace k8s.io, the kubelet's labels, a 64-digit ID).
// httptrace --pod shop/web-0, given containerd's socket, traces the first
// pod's server and not the other pod's, and labels each exchange with the
// pod's namespace, name and container; when the container is replaced (the
// kubelet restarts one as a new container, a new ID), the new one is
// traced from its start.
func TestPodSelection(t *testing.T) {
	cd := harness.StartContainerd(t)
	web0 := cd.RunPodServer(t, "shop", "web-0", "server", harness.FreeAddr(t))
	web1 := cd.RunPodServer(t, "shop", "web-1", "server", harness.FreeAddr(t))
	tr := harness.StartTracer(t, harness.Mode(), nil, "--pod", "shop/web-0", "--runtime-socket", cd.Socket)

	send := func(addr, what string, n, hostPID int) []harness.Sent {
		return sendToContainer(t, addr, what, n, hostPID)
	}
	sent := send(web0.Addr, "pod", 3, web0.HostPID)
	send(web1.Addr, "other-pod", 3, 0) // not to be logged
	ids := map[string]bool{web0.ID: true}

	// The kubelet replaces the container: the old one goes, a new one (a
	// new ID) of the same pod starts.
	cd.Remove(t, web0.ID)
	again := cd.RunPodServer(t, "shop", "web-0", "server", harness.FreeAddr(t))
	ids[again.ID] = true
	tr.WaitLine(t, true, func(l string) bool {
		return strings.Contains(l, `"msg":"container traced"`) && strings.Contains(l, fmt.Sprintf(`"pid":%d,`, again.HostPID))
	}, waitForLogs)
	sent = append(sent, send(again.Addr, "replaced", 3, again.HostPID)...)

	good := finish(t, tr, "", sent)
	for _, r := range tr.Records(t) {
		if !ids[r.ContainerID] || r.K8sNamespace != "shop" || r.K8sPod != "web-0" || r.K8sContainer != "server" ||
			r.ContainerName != "server" || r.ContainerPID != 1 {
			delete(good, r.Header(harness.IDHeader))
			t.Errorf("not labelled as container server of pod shop/web-0 (%s or %s): %s", web0.ID, again.ID, r.Line)
		}
		if r.Server == web1.Addr {
			t.Errorf("the other pod's exchange logged: %s", r.Line)
		}
	}
	harness.Result("pod-select", tr.Mode, good, sent)
}
