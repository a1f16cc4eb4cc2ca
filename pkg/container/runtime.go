// The container runtimes' APIs: Docker's (which podman serves too), over
// its unix socket, here, and containerd's (containerd.go): containers by
// name, their main PID, their starts.

package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Sockets are where the runtimes serve their API, tried in order.
var Sockets = []string{"/run/podman/podman.sock", "/run/docker.sock", "/var/run/docker.sock", ContainerdSocket, K3sContainerdSocket}

// PodSockets are where a Kubernetes node's runtime serves its API, for
// selecting pods: containerd's first (a node may run Docker beside the
// containerd the kubelet uses), then the others.
var PodSockets = append([]string{ContainerdSocket, K3sContainerdSocket}, Sockets[:3]...)

// Runtime is a container runtime's API.
type Runtime interface {
	// Socket is where it is served, for messages.
	Socket() string
	// Running lists the running containers (their PIDs may be 0).
	Running(ctx context.Context) ([]Info, error)
	// Inspect describes container id (an ID; with Docker's API, a name
	// too), with its main PID (0 when it is not running).
	Inspect(ctx context.Context, id string) (Info, error)
	// Events calls ready once the runtime streams its events (a start
	// after that is in the stream: list what runs then; it may be called
	// again), then fn for each container start and death, until ctx is
	// done or the stream ends, and returns why.
	Events(ctx context.Context, ready func(), fn func(Event)) error
	// Close lets go of the connection.
	Close() error
}

// Info is a running container as the runtime describes it.
type Info struct {
	ID     string
	Name   string
	PID    int // its main process, in the host's PID namespace
	Labels map[string]string
}

// DockerAPI is a client of Docker's API (podman's too).
type DockerAPI struct {
	socket string
	http   *http.Client
}

// requestTimeout bounds each request but the event stream: a runtime that
// hangs is an error, not a tracer that never starts.
const requestTimeout = 5 * time.Second

// NewDockerAPI returns a client of Docker's API served at socket.
func NewDockerAPI(socket string) *DockerAPI {
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}}
	return &DockerAPI{socket: socket, http: &http.Client{Transport: tr}}
}

// Socket is where it connects.
func (r *DockerAPI) Socket() string { return r.socket }

// Close closes its idle connections.
func (r *DockerAPI) Close() error {
	r.http.CloseIdleConnections()
	return nil
}

// FindRuntime returns a client of the first socket whose API answers:
// Docker's, else containerd's.
func FindRuntime(ctx context.Context, sockets []string) (Runtime, error) {
	var tried []string
	for _, s := range sockets {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		rt, err := answering(ctx, s)
		cancel()
		if err == nil {
			return rt, nil
		}
		tried = append(tried, err.Error())
	}
	return nil, fmt.Errorf("no container runtime answers (%s): start one's API service (podman system service, dockerd, containerd)", strings.Join(tried, "; "))
}

// answering is the client of the API served at socket, if one answers.
func answering(ctx context.Context, socket string) (Runtime, error) {
	d := NewDockerAPI(socket)
	errDocker := d.get(ctx, "/_ping", nil)
	if errDocker == nil {
		return d, nil
	}
	c, err := NewContainerd(socket)
	if err != nil {
		return nil, errDocker
	}
	if err := c.ping(ctx); err != nil {
		c.Close()
		if strings.Contains(socket, "containerd") {
			return nil, err
		}
		return nil, errDocker
	}
	return c, nil
}

// get reads path's JSON answer into out (nil: any 2xx answer).
func (r *DockerAPI) get(ctx context.Context, path string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://runtime"+path, nil)
	if err != nil {
		return err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		var u *url.Error
		if errors.As(err, &u) {
			err = u.Err // the dial's error, not the made-up URL
		}
		return fmt.Errorf("%s: %w", r.socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s: GET %s: %s: %s", r.socket, path, resp.Status, strings.TrimSpace(string(msg)))
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s: GET %s: %w", r.socket, path, err)
	}
	return nil
}

// Running lists the running containers: IDs and names (no PIDs).
func (r *DockerAPI) Running(ctx context.Context) ([]Info, error) {
	var list []struct {
		ID     string `json:"Id"`
		Names  []string
		Labels map[string]string
	}
	if err := r.get(ctx, "/containers/json", &list); err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(list))
	for _, c := range list {
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out = append(out, Info{ID: c.ID, Name: name, Labels: c.Labels})
	}
	return out, nil
}

// Inspect describes container id (an ID or a name), with its main PID (0
// when it is not running).
func (r *DockerAPI) Inspect(ctx context.Context, id string) (Info, error) {
	var c struct {
		ID    string `json:"Id"`
		Name  string
		State struct {
			Running bool
			Pid     int
		}
		Config struct {
			Labels map[string]string
		}
	}
	if err := r.get(ctx, "/containers/"+url.PathEscape(id)+"/json", &c); err != nil {
		return Info{}, err
	}
	info := Info{ID: c.ID, Name: strings.TrimPrefix(c.Name, "/"), Labels: c.Config.Labels}
	if c.State.Running {
		info.PID = c.State.Pid
	}
	return info, nil
}

// Event is a container's start (or restart) or end.
type Event struct {
	ID, Name string
	Started  bool // else it died
}

// Events calls ready once the runtime streams its events (a start after
// that is in the stream: list what runs then), then fn for each container
// start and death, until ctx is done or the stream ends, and returns why.
func (r *DockerAPI) Events(ctx context.Context, ready func(), fn func(Event)) error {
	filters := url.QueryEscape(`{"type":["container"]}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://runtime/events?filters="+filters, nil)
	if err != nil {
		return err
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: events: %w", r.socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: events: %s", r.socket, resp.Status)
	}
	ready()
	return decodeEvents(ctx, r.socket, resp.Body, fn)
}

// decodeEvents reads Docker's event stream (which podman serves): each a
// JSON object with Action and Actor (status and id in older ones).
func decodeEvents(ctx context.Context, socket string, body io.Reader, fn func(Event)) error {
	dec := json.NewDecoder(body)
	for {
		var e struct {
			Status string `json:"status"`
			ID     string `json:"id"`
			Action string
			Actor  struct {
				ID         string
				Attributes map[string]string
			}
		}
		if err := dec.Decode(&e); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("%s: the event stream ended", socket)
			}
			return fmt.Errorf("%s: events: %w", socket, err)
		}
		action := e.Action
		if action == "" {
			action = e.Status
		}
		id := e.ID
		if id == "" {
			id = e.Actor.ID
		}
		switch action {
		case "start", "restart":
			fn(Event{ID: id, Name: e.Actor.Attributes["name"], Started: true})
		case "die", "died": // podman's older streams say died
			fn(Event{ID: id, Name: e.Actor.Attributes["name"]})
		}
	}
}
