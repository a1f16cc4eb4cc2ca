package runner

import (
	"context"
	"fmt"
	"os"
	"slices"
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
func containerRuntime(ctx context.Context, cfg config.Config) (container.Runtime, error) {
	return container.FindRuntime(ctx, runtimeSockets(cfg))
}

// runtimeSockets are the sockets a runtime is looked for at, in order:
// the one configured, else the known ones (for pods, the CRI runtimes').
func runtimeSockets(cfg config.Config) []string {
	switch {
	case cfg.RuntimeSocket != "":
		return []string{cfg.RuntimeSocket}
	case len(cfg.Pods) > 0:
		return container.PodSockets
	}
	return container.Sockets
}

// namingRuntime is the runtime that names the containers of processes
// traced by other means than --container and --pod, when one answers
// within a few seconds; without one, containers are known by their IDs
// alone: a warning says so when a runtime's socket is there but does not
// answer (a host with no runtime at all is told nothing; httptrace doctor
// says it).
func namingRuntime(ctx context.Context, cfg config.Config, log logrus.FieldLogger) (container.Runtime, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rt, err := containerRuntime(ctx, cfg)
	if err != nil {
		l := log.WithError(err)
		if s := presentSocket(cfg); s != "" {
			l.WithField("socket", s).Warn("container runtime: its socket does not answer, containers are known by ID alone")
		} else {
			l.Debug("container runtime: containers are known by ID alone")
		}
	}
	return rt, err
}

// presentSocket is the first of the runtime sockets looked for that
// exists, "" for none.
func presentSocket(cfg config.Config) string {
	for _, s := range runtimeSockets(cfg) {
		if fi, err := os.Stat(s); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return s
		}
	}
	return ""
}

// selector names every container the runtime runs (for the records of
// processes in them, however they were selected), and follows the
// containers selected by name or ID, and those of the pods selected (by
// the kubelet's labels on them). Each running one
// has its cgroup tracked in the kernel, so that a process that forks or
// execs in it is traced (one its runtime starts or execs into it is no
// descendant of a traced process), and its running processes tracked. A
// start or a restart the runtime reports does the same again (a restart
// makes a new cgroup, a re-creation a new ID); a death untracks its cgroup
// unless the container runs again by then.
type selector struct {
	rt     container.Runtime
	want   []string
	pods   []string // [NAMESPACE/]NAME
	tr     *tracer.Tracer
	probe  func(pid int) // probes the TLS libraries of a process found running (nil: no TLS)
	labels *container.Resolver
	log    logrus.FieldLogger

	mu      sync.Mutex
	cgroups map[string]uint64 // tracked container ID -> its cgroup id
	done    chan struct{}
}

// forgetNamesAfter is how long a dead container's names are kept.
const forgetNamesAfter = time.Minute

// firstStream bounds the wait for the runtime's event stream at start.
const firstStream = 10 * time.Second

// start subscribes to the runtime's events, then selects the containers
// running (a start in between is in the stream), and follows the events
// until ctx is done; wait returns once it has stopped.
func (s *selector) start(ctx context.Context) error {
	s.cgroups = map[string]uint64{}
	s.done = make(chan struct{})
	s.log.WithField("socket", s.rt.Socket()).Info("container runtime")
	first := make(chan error, 1)
	go s.follow(ctx, first)
	select {
	case err := <-first:
		return err
	case <-time.After(firstStream):
		return fmt.Errorf("%s: no event stream after %s", s.rt.Socket(), firstStream)
	}
}

func (s *selector) wait() { <-s.done }

// follow reads the runtime's events until ctx is done, connecting again
// (with a growing pause, warning once per outage) when the stream breaks;
// each time the stream is there, it selects what runs. The first attempt's
// outcome goes to first.
func (s *selector) follow(ctx context.Context, first chan<- error) {
	defer close(s.done)
	pause, broken := time.Second, false
	for ctx.Err() == nil {
		err := s.rt.Events(ctx, func() {
			if broken {
				s.log.WithField("socket", s.rt.Socket()).Info("container runtime events: connected again")
			}
			broken, pause = false, time.Second
			s.selectRunning(ctx)
			if first != nil {
				first <- nil
				first = nil
			}
		}, func(e container.Event) { s.event(ctx, e) })
		if ctx.Err() != nil {
			return
		}
		if first != nil {
			first <- err
			return
		}
		if !broken {
			s.log.WithError(err).Warn("container runtime events: connecting again (a container's start meanwhile is found when they come back)")
			broken = true
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 30*time.Second)
	}
}

// selectRunning selects, for each selector, the running container whose ID
// or name it is, else the one whose ID it begins (12 or more hex digits).
func (s *selector) selectRunning(ctx context.Context) {
	running, err := s.rt.Running(ctx)
	if err != nil {
		s.log.WithError(err).Warn("listing the running containers")
		return
	}
	// Every container is named, selected or not: a process traced by
	// other means (a port, a PID) may run in one.
	for _, c := range running {
		s.labels.SetNames(c.ID, container.NamesOf(c))
	}
	// A death while the events were away: its cgroup goes now.
	s.mu.Lock()
	var gone []string
	for id := range s.cgroups {
		if !slices.ContainsFunc(running, func(c container.Info) bool { return c.ID == id }) {
			gone = append(gone, id)
		}
	}
	s.mu.Unlock()
	for _, id := range gone {
		s.died(ctx, id)
	}
	for _, w := range s.want {
		ids, ambiguous := choose(w, running)
		switch {
		case ambiguous:
			s.log.WithField("container", w).Warn("an ID prefix that names more than one running container: none selected by it")
		case len(ids) == 0:
			s.log.WithFields(logrus.Fields{"container": w, "socket": s.rt.Socket()}).Info("no such container running: traced once it starts")
		}
		for _, id := range ids {
			s.add(ctx, id)
		}
	}
	for _, p := range s.pods {
		n := 0
		for _, c := range running {
			if inPod(p, c.Labels) {
				s.add(ctx, c.ID)
				n++
			}
		}
		if n == 0 {
			s.log.WithFields(logrus.Fields{"pod": p, "socket": s.rt.Socket()}).Info("no container of this pod running: traced once one starts")
		}
	}
}

// inPod says whether a container with labels is one of pod p's,
// [NAMESPACE/]NAME, as the kubelet labels them.
func inPod(p string, labels map[string]string) bool {
	ns, name := config.ParsePod(p)
	return name != "" && labels[container.LabelPodName] == name && (ns == "" || labels[container.LabelPodNamespace] == ns) &&
		!container.Sandbox(labels)
}

// choose returns the IDs of the running containers selector w selects:
// those it names or whose full ID it is, else the one whose ID it begins;
// a prefix of more than one selects none (ambiguous).
func choose(w string, running []container.Info) (ids []string, ambiguous bool) {
	var prefix []string
	for _, c := range running {
		switch {
		case w == c.ID || w == c.Name:
			ids = append(ids, c.ID)
		case isPrefix(w, c.ID):
			prefix = append(prefix, c.ID)
		}
	}
	switch {
	case len(ids) > 0:
		return ids, false
	case len(prefix) == 1:
		return prefix, false
	}
	return nil, len(prefix) > 1
}

// isPrefix says whether w, 12 or more hex digits, begins id.
func isPrefix(w, id string) bool {
	if len(w) < 12 || !strings.HasPrefix(id, w) {
		return false
	}
	for _, c := range w {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// event names a container that starts (selected or not: a process traced
// by other means may run in it) and follows a start or a death of a
// selected one. A dead container's names go a while later, once its last
// records are written.
func (s *selector) event(ctx context.Context, e container.Event) {
	// One lookup, for a start, or when the event lacks the name (an old
	// Docker stream's, containerd's) or pods are selected (their labels
	// are asked for).
	var info container.Info
	var found bool
	if e.Started || e.Name == "" || len(s.pods) > 0 {
		var err error
		info, err = s.rt.Inspect(ctx, e.ID)
		found = err == nil
	}
	if e.Started && found {
		s.labels.SetNames(info.ID, container.NamesOf(info))
	} else if !e.Started {
		time.AfterFunc(forgetNamesAfter, func() { s.labels.ForgetNames(e.ID) })
	}
	name := e.Name
	if name == "" && found {
		name = info.Name
	}
	wanted := false
	for _, w := range s.want {
		wanted = wanted || w == e.ID || w == name || isPrefix(w, e.ID)
	}
	for _, p := range s.pods {
		wanted = wanted || found && inPod(p, info.Labels)
	}
	if !wanted && !e.Started {
		// A death of a container gone from the runtime (no name, no
		// labels left to ask for): its cgroup, if tracked, goes.
		_, wanted = s.tracked(e.ID)
	}
	switch {
	case !wanted:
	case e.Started:
		s.add(ctx, e.ID)
	default:
		s.died(ctx, e.ID)
	}
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
	s.labels.SetNames(info.ID, container.NamesOf(info))
	// The cgroup first: a process that forks or execs from now on is
	// tracked by the kernel, one running now by the scan below.
	cg, err := container.CgroupID("/proc", info.PID, info.ID)
	if old, ok := s.tracked(info.ID); ok && err == nil && old == cg {
		log.Debug("a selected container is traced already") // a relist's
		return
	}
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
	if err := s.tr.TrackPIDs(pids, "/proc"); err != nil {
		log.WithError(err).Warn("tracking a container's processes")
	}
	if s.probe != nil {
		for _, pid := range pids {
			s.probe(pid)
		}
	}
	log.WithFields(logrus.Fields{"pid": info.PID, "processes": len(pids)}).Info("container traced")
}

// died untracks the cgroup of a container that died, unless it runs again
// by now (a death reported after the restart's start): a restart makes a
// new cgroup, which its start's add tracks.
func (s *selector) died(ctx context.Context, id string) {
	if info, err := s.rt.Inspect(ctx, id); err == nil && info.PID != 0 {
		if cg, err := container.CgroupID("/proc", info.PID, info.ID); err == nil {
			s.mu.Lock()
			current := s.cgroups[id] == cg
			s.mu.Unlock()
			if current {
				return
			}
		}
	}
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

// tracked is the cgroup tracked for container id, if any.
func (s *selector) tracked(id string) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cg, ok := s.cgroups[id]
	return cg, ok
}
