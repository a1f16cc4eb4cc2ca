package container

import (
	"testing"

	"github.com/containerd/containerd/api/events"
	"google.golang.org/protobuf/proto"
)

// TestTaskEvent: a task's start and its main process's exit are a
// container's start and death; an exec's exit and other topics are none.
func TestTaskEvent(t *testing.T) {
	marshal := func(m proto.Message) []byte {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tt := range []struct {
		name, topic, typeURL string
		value                []byte
		want                 Event
		ok                   bool
	}{
		{"start", "/tasks/start", "containerd.events.TaskStart", marshal(&events.TaskStart{ContainerID: "abc", Pid: 42}), Event{ID: "abc", Started: true}, true},
		{"exit", "/tasks/exit", "containerd.events.TaskExit", marshal(&events.TaskExit{ContainerID: "abc", ID: "abc", Pid: 42}), Event{ID: "abc"}, true},
		{"exec's exit", "/tasks/exit", "containerd.events.TaskExit", marshal(&events.TaskExit{ContainerID: "abc", ID: "exec-1"}), Event{}, false},
		{"other topic", "/tasks/oom", "containerd.events.TaskOOM", marshal(&events.TaskOOM{ContainerID: "abc"}), Event{}, false},
		{"garbage", "/tasks/start", "containerd.events.TaskStart", []byte{0xff, 0xff}, Event{}, false},
	} {
		got, ok := taskEvent(tt.topic, tt.typeURL, tt.value)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: %+v %v, want %+v %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

// TestNamesOf: a containerd container is named by the kubelet's label,
// else nerdctl's, else its ID; its pod's names come from the labels.
func TestNamesOf(t *testing.T) {
	if n := nameOf("abc", map[string]string{LabelContainerName: "server", labelNerdctlName: "x"}); n != "server" {
		t.Errorf("kubelet's: %q", n)
	}
	if n := nameOf("abc", map[string]string{labelNerdctlName: "web"}); n != "web" {
		t.Errorf("nerdctl's: %q", n)
	}
	if n := nameOf("abc", nil); n != "abc" {
		t.Errorf("none: %q", n)
	}
	got := NamesOf(Info{Name: "server", Labels: map[string]string{LabelPodName: "web-0", LabelPodNamespace: "shop"}})
	if got != (Names{Name: "server", Pod: "web-0", Namespace: "shop"}) {
		t.Errorf("NamesOf: %+v", got)
	}
}
