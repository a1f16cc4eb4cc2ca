package runner

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/container"
	"github.com/httptrace/httptrace/pkg/tracer"
)

// containerRuntime is the client of the runtime that names the selected
// containers: the configured socket, or the first that answers.
func containerRuntime(ctx context.Context, cfg config.Config) (*container.Runtime, error) {
	sockets := container.Sockets
	if cfg.RuntimeSocket != "" {
		sockets = []string{cfg.RuntimeSocket}
	}
	return container.FindRuntime(ctx, sockets)
}

// selector follows the containers selected by name or ID. Each running one
// has its cgroup tracked in the kernel, so that a process that execs in
// it is traced (one its runtime starts or execs into it is no descendant
// of a traced process), and its running processes tracked. A start or a
// restart the runtime reports does the same again (a restart makes a new
// cgroup, a re-creation a new ID); a death untracks its cgroup.
type selector struct {
	rt     *container.Runtime
	want   []string
	tr     *tracer.Tracer
	exec   func(pid int) // the TLS libraries of a process found running (nil: no TLS)
	labels *container.Resolver
	log    logrus.FieldLogger

	mu      sync.Mutex
	cgroups map[string]uint64 // tracked container ID -> its cgroup id
	done    chan struct{}
}

// start selects the running containers and follows the runtime's events
// until ctx is done; wait returns once it has stopped.
func (s *selector) start(ctx context.Context) error {
	s.cgroups = map[string]uint64{}
	s.done = make(chan struct{})
	running, err := s.rt.Running(ctx)
	if err != nil {
		return err
	}
	for _, w := range s.want {
		found := false
		for _, c := range running {
			if s.selects(w, c.ID, c.Name) {
				found = true
				s.add(ctx, c.ID)
			}
		}
		if !found {
			s.log.WithField("container", w).Info("no such container running: traced once it starts")
		}
	}
	go s.follow(ctx)
	return nil
}

func (s *selector) wait() { <-s.done }

// selects says whether the selector w names container id called name: its
// name, its ID, or 12 or more hex digits its ID starts with.
func (s *selector) selects(w, id, name string) bool {
	if w == name || w == id {
		return true
	}
	return len(w) >= 12 && hexDigits(w) && strings.HasPrefix(id, w)
}

func hexDigits(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// follow reads the runtime's events until ctx is done, connecting again
// (and looking at what runs, for starts missed meanwhile) when the stream
// breaks.
func (s *selector) follow(ctx context.Context) {
	defer close(s.done)
	for ctx.Err() == nil {
		err := s.rt.Events(ctx, func(e container.Event) {
			if !s.wanted(e.ID, e.Name) {
				return
			}
			if e.Started {
				s.add(ctx, e.ID)
			} else {
				s.remove(e.ID)
			}
		})
		if ctx.Err() != nil {
			return
		}
		s.log.WithError(err).Warn("container runtime events: connecting again")
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		if running, err := s.rt.Running(ctx); err == nil {
			for _, c := range running {
				if s.wanted(c.ID, c.Name) {
					s.add(ctx, c.ID)
				}
			}
		}
	}
}

func (s *selector) wanted(id, name string) bool {
	for _, w := range s.want {
		if s.selects(w, id, name) {
			return true
		}
	}
	return false
}

// add tracks container id's cgroup and its running processes.
func (s *selector) add(ctx context.Context, id string) {
	info, err := s.rt.Inspect(ctx, id)
	log := s.log.WithField("id", id[:min(len(id), 12)])
	if err != nil || info.PID == 0 {
		log.WithError(err).Debug("a selected container is not running")
		return
	}
	log = log.WithField("container", info.Name)
	s.labels.SetName(info.ID, info.Name)
	cg, err := container.CgroupID("/proc", info.PID)
	if err != nil {
		log.WithError(err).Warn("this container's cgroup cannot be selected in the kernel: a process started in it later is traced only if a traced one forks it")
	} else {
		s.mu.Lock()
		old, had := s.cgroups[info.ID]
		s.cgroups[info.ID] = cg
		s.mu.Unlock()
		if had && old != cg {
			s.untrack(log, old)
		}
		if err := s.tr.TrackCgroup(cg, true); err != nil {
			log.WithError(err).Warn("selecting a container's cgroup")
		}
	}
	pids, err := container.Processes("/proc", info.ID)
	if err != nil {
		log.WithError(err).Warn("listing a container's processes")
	}
	if err := s.tr.TrackPIDs(pids); err != nil {
		log.WithError(err).Warn("tracking a container's processes")
	}
	if s.exec != nil {
		for _, pid := range pids {
			s.exec(pid)
		}
	}
	log.WithFields(logrus.Fields{"pid": info.PID, "processes": len(pids)}).Info("container traced")
}

// remove untracks a container that died: its cgroup goes with it (a
// restart makes a new one).
func (s *selector) remove(id string) {
	s.mu.Lock()
	cg, ok := s.cgroups[id]
	delete(s.cgroups, id)
	s.mu.Unlock()
	if ok {
		s.untrack(s.log.WithField("id", id[:min(len(id), 12)]), cg)
	}
}

func (s *selector) untrack(log logrus.FieldLogger, cg uint64) {
	if err := s.tr.TrackCgroup(cg, false); err != nil {
		log.WithError(err).Debug("untracking a container's cgroup")
	}
}
