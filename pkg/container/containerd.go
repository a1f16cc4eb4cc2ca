// containerd's API (gRPC, over its unix socket): the runtime of
// Kubernetes nodes. Its containers have no names of their own: the
// kubelet's labels name them (io.kubernetes.container.name, the pod's
// name and namespace), or nerdctl's.

package container

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/containerd/containerd/api/events"
	containersapi "github.com/containerd/containerd/api/services/containers/v1"
	eventsapi "github.com/containerd/containerd/api/services/events/v1"
	namespacesapi "github.com/containerd/containerd/api/services/namespaces/v1"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	versionapi "github.com/containerd/containerd/api/services/version/v1"
	"github.com/containerd/containerd/api/types/task"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Where containerd serves its API: its own place, and k3s's.
const (
	ContainerdSocket    = "/run/containerd/containerd.sock"
	K3sContainerdSocket = "/run/k3s/containerd/containerd.sock"
)

// The labels the kubelet (through the CRI) puts on a pod's containers,
// and the one that marks a pod's sandbox (pause) container.
const (
	LabelPodName       = "io.kubernetes.pod.name"
	LabelPodNamespace  = "io.kubernetes.pod.namespace"
	LabelPodUID        = "io.kubernetes.pod.uid"
	LabelContainerName = "io.kubernetes.container.name"
	labelCRIKind       = "io.cri-containerd.kind"
	labelDockerType    = "io.kubernetes.docker.type" // cri-dockerd's
	labelNerdctlName   = "nerdctl/name"
)

// Sandbox says whether a container with labels is a pod's sandbox (its
// pause container), which the kubelet labels with the pod's names too.
func Sandbox(labels map[string]string) bool {
	return labels[labelCRIKind] == "sandbox" || labels[labelDockerType] == "podsandbox"
}

// Containerd is a client of containerd's API, over every namespace
// (k8s.io is the kubelet's).
type Containerd struct {
	socket string
	conn   *grpc.ClientConn
}

// NewContainerd returns a client of containerd at socket; nothing is sent
// until the first call.
func NewContainerd(socket string) (*Containerd, error) {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", socket, err)
	}
	return &Containerd{socket: socket, conn: conn}, nil
}

// Socket is where it connects, for messages.
func (c *Containerd) Socket() string { return c.socket }

// Close closes the connection.
func (c *Containerd) Close() error { return c.conn.Close() }

func (c *Containerd) ping(ctx context.Context) error {
	if _, err := versionapi.NewVersionClient(c.conn).Version(ctx, &emptypb.Empty{}); err != nil {
		return fmt.Errorf("%s: %w", c.socket, err)
	}
	return nil
}

// in is ctx for containerd namespace ns.
func in(ctx context.Context, ns string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "containerd-namespace", ns)
}

func (c *Containerd) namespaces(ctx context.Context) ([]string, error) {
	resp, err := namespacesapi.NewNamespacesClient(c.conn).List(ctx, &namespacesapi.ListNamespacesRequest{})
	if err != nil {
		return nil, fmt.Errorf("%s: namespaces: %w", c.socket, err)
	}
	out := make([]string, 0, len(resp.Namespaces))
	for _, ns := range resp.Namespaces {
		out = append(out, ns.Name)
	}
	return out, nil
}

// Running lists the running (and paused) containers of every namespace,
// with their main PIDs and labels (a pod's sandbox is no container of its).
func (c *Containerd) Running(ctx context.Context) ([]Info, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	nss, err := c.namespaces(ctx)
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, ns := range nss {
		tasks, err := tasksapi.NewTasksClient(c.conn).List(in(ctx, ns), &tasksapi.ListTasksRequest{})
		if err != nil {
			return nil, fmt.Errorf("%s: tasks of %s: %w", c.socket, ns, err)
		}
		for _, t := range tasks.Tasks {
			if t.Status != task.Status_RUNNING && t.Status != task.Status_PAUSED {
				continue
			}
			id := t.ContainerID
			if id == "" { // containerd 1.6 lists a task by its own ID, its container's
				id = t.ID
			}
			info, err := c.container(in(ctx, ns), id)
			if status.Code(err) == codes.NotFound || err == nil && Sandbox(info.Labels) {
				continue // gone meanwhile, or a sandbox
			}
			if err != nil {
				return nil, fmt.Errorf("%s: container %s: %w", c.socket, id, err)
			}
			info.PID = int(t.Pid)
			out = append(out, info)
		}
	}
	return out, nil
}

// container describes container id of ctx's namespace (no PID).
func (c *Containerd) container(ctx context.Context, id string) (Info, error) {
	resp, err := containersapi.NewContainersClient(c.conn).Get(ctx, &containersapi.GetContainerRequest{ID: id})
	if err != nil {
		return Info{}, err
	}
	labels := resp.Container.Labels
	return Info{ID: id, Name: nameOf(id, labels), Labels: labels}, nil
}

// nameOf is a containerd container's name: the kubelet's container name,
// nerdctl's, else its ID.
func nameOf(id string, labels map[string]string) string {
	for _, l := range []string{LabelContainerName, labelNerdctlName} {
		if n := labels[l]; n != "" {
			return n
		}
	}
	return id
}

// Inspect describes container id (its full ID), with its main PID (0 when
// it is not running).
func (c *Containerd) Inspect(ctx context.Context, id string) (Info, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	nss, err := c.namespaces(ctx)
	if err != nil {
		return Info{}, err
	}
	for _, ns := range nss {
		info, err := c.container(in(ctx, ns), id)
		if status.Code(err) == codes.NotFound {
			continue
		}
		if err != nil {
			return Info{}, fmt.Errorf("%s: container %s: %w", c.socket, id, err)
		}
		t, err := tasksapi.NewTasksClient(c.conn).Get(in(ctx, ns), &tasksapi.GetRequest{ContainerID: id})
		if err == nil && (t.Process.Status == task.Status_RUNNING || t.Process.Status == task.Status_PAUSED) {
			info.PID = int(t.Process.Pid)
		}
		return info, nil
	}
	return Info{}, fmt.Errorf("%s: no container %s", c.socket, id)
}

// RelistFirst is when Events calls ready a second time: containerd
// registers a subscription some time after the call that makes it, and a
// container that started in between is found running then. Later,
// RelistEvery, ready reconciles what runs with what was seen (a
// subscription that took longer, a death missed).
const (
	RelistFirst = time.Second
	RelistEvery = 30 * time.Second
)

// Events calls ready once containerd streams its events, again after
// RelistFirst and every RelistEvery, and fn for each container start and
// death (its task's start and exit), until ctx is done or the stream
// ends, and returns why. Every call is made from this goroutine.
func (c *Containerd) Events(ctx context.Context, ready func(), fn func(Event)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := eventsapi.NewEventsClient(c.conn).Subscribe(ctx, &eventsapi.SubscribeRequest{
		Filters: []string{`topic=="/tasks/start"`, `topic=="/tasks/exit"`}})
	if err != nil {
		return fmt.Errorf("%s: events: %w", c.socket, err)
	}
	type recv struct {
		e   Event
		ok  bool
		err error
	}
	ch := make(chan recv)
	go func() {
		for {
			env, err := stream.Recv()
			var r recv
			if err != nil {
				r.err = err
			} else {
				r.e, r.ok = taskEvent(env.Topic, env.Event.GetTypeUrl(), env.Event.GetValue())
			}
			select {
			case ch <- r:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	ready()
	relist := time.NewTimer(RelistFirst)
	defer relist.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-relist.C:
			ready()
			relist.Reset(RelistEvery)
		case r := <-ch:
			switch {
			case r.err != nil && ctx.Err() != nil:
				return ctx.Err()
			case errors.Is(r.err, io.EOF):
				return fmt.Errorf("%s: the event stream ended", c.socket)
			case r.err != nil:
				return fmt.Errorf("%s: events: %w", c.socket, r.err)
			case r.ok:
				fn(r.e)
			}
		}
	}
}

// taskEvent decodes a task's start or exit (of its main process: an
// exec's exit is none).
func taskEvent(topic, typeURL string, value []byte) (Event, bool) {
	switch {
	case topic == "/tasks/start" && strings.HasSuffix(typeURL, "TaskStart"):
		var s events.TaskStart
		if proto.Unmarshal(value, &s) == nil && s.ContainerID != "" {
			return Event{ID: s.ContainerID, Started: true}, true
		}
	case topic == "/tasks/exit" && strings.HasSuffix(typeURL, "TaskExit"):
		var x events.TaskExit
		if proto.Unmarshal(value, &x) == nil && x.ContainerID != "" && (x.ID == "" || x.ID == x.ContainerID) {
			return Event{ID: x.ContainerID}, true
		}
	}
	return Event{}, false
}
