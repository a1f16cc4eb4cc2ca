package runner

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sirupsen/logrus"
	logtest "github.com/sirupsen/logrus/hooks/test"

	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/container"
)

func TestChoose(t *testing.T) {
	const (
		a = "3f1d8a6e2b9c4d7e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6"
		b = "3f1d8a6e2b9c00000000000000000000000000000000000000000000000000bb"
		c = "aa00000000000000000000000000000000000000000000000000000000000000"
	)
	running := []container.Info{{ID: a, Name: "web"}, {ID: b, Name: "3f1d8a6e2b9c4d7e"}, {ID: c, Name: "db"}}
	cases := []struct {
		w         string
		want      []string
		ambiguous bool
	}{
		{"web", []string{a}, false},
		{a, []string{a}, false},
		{"aa0000000000", []string{c}, false},     // a prefix of one
		{"3f1d8a6e2b9c", nil, true},              // a prefix of two
		{"3f1d8a6e2b9c4d7e", []string{b}, false}, // a name wins over the ID it begins
		{"aa00000000", nil, false},               // under 12 digits: no prefix
		{"AA0000000000", nil, false},             // not lower-case hex
		{"nothing", nil, false},
	}
	for _, tc := range cases {
		got, amb := choose(tc.w, running)
		if !slices.Equal(got, tc.want) || amb != tc.ambiguous {
			t.Errorf("%s: %v ambiguous=%v, want %v ambiguous=%v", tc.w, got, amb, tc.want, tc.ambiguous)
		}
	}
}

// TestInPod: a pod selector matches the kubelet's labels, its namespace
// when it names one, any namespace when not.
func TestInPod(t *testing.T) {
	labels := map[string]string{container.LabelPodName: "web-0", container.LabelPodNamespace: "shop"}
	for p, want := range map[string]bool{"shop/web-0": true, "web-0": true, "other/web-0": false, "shop/web-1": false, "web": false} {
		if got := inPod(p, labels); got != want {
			t.Errorf("inPod(%q): %v, want %v", p, got, want)
		}
	}
	if inPod("web-0", map[string]string{}) || inPod("web-0", nil) {
		t.Error("a container with no pod's labels is in a pod")
	}
	// The pod's sandbox (pause container) carries the pod's labels too.
	for _, sandbox := range []map[string]string{{"io.cri-containerd.kind": "sandbox"}, {"io.kubernetes.docker.type": "podsandbox"}} {
		for k, v := range labels {
			sandbox[k] = v
		}
		if inPod("shop/web-0", sandbox) {
			t.Errorf("a sandbox %v is one of the pod's containers", sandbox)
		}
	}
}

// TestNamingRuntimeWarns: a runtime's socket that is there but does not
// answer is warned of once (containers known by ID alone); no socket at
// all is said at debug level only, and no runtime is returned either way.
func TestNamingRuntimeWarns(t *testing.T) {
	dir := t.TempDir()
	mute := filepath.Join(dir, "mute.sock")
	ln, err := net.Listen("unix", mute)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close() // speaks neither Docker's API nor containerd's
		}
	}()
	for _, c := range []struct {
		socket string
		warn   bool
	}{{mute, true}, {filepath.Join(dir, "none.sock"), false}} {
		log, hook := logtest.NewNullLogger()
		log.SetLevel(logrus.DebugLevel)
		rt, err := namingRuntime(context.Background(), config.Config{RuntimeSocket: c.socket}, log)
		if rt != nil || err == nil {
			t.Errorf("%s: runtime %v, error %v: want none, and why", c.socket, rt, err)
		}
		warned := 0
		for _, e := range hook.AllEntries() {
			if e.Level == logrus.WarnLevel {
				warned++
			}
		}
		if want := map[bool]int{true: 1, false: 0}[c.warn]; warned != want {
			t.Errorf("%s: %d warnings, want %d: %v", c.socket, warned, want, hook.AllEntries())
		}
	}
}
