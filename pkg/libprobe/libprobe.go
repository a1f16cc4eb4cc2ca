// Package libprobe attaches the uprobes of probes.Uprobes to the library
// files traced processes map. A file's functions are found once (by
// device and inode, so a container's private copy is a file of its own),
// through the process's root, when tracing starts and whenever a traced
// process forks, execs or maps a TLS library. The probes are attached for
// each traced process (PerProcess: a process that maps the same library
// but is not traced never stops at them), or once for every process (All:
// for processes yet to start, selected by name). A file that cannot be
// probed is said once, with the reason, and counted.
package libprobe

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/userbin"
)

// AllProcesses, as a pid, attaches a probe that fires in every process
// that maps the file.
const AllProcesses = -1

// Attacher attaches a program at a function of a file (tracer.Tracer),
// for process pid (or AllProcesses), and returns how to detach it.
type Attacher interface {
	AttachUprobe(prog, path string, offset uint64, ret bool, pid int) (detach func() error, err error)
}

// Scope is for which processes a file's probes are attached.
type Scope int

const (
	// PerProcess attaches a file's probes for each traced process that maps
	// it, and detaches them when the process exits or execs: an untraced
	// process that shares the library (a load generator, a neighbour)
	// never takes the breakpoints' cost. A child is probed when its fork
	// is seen; its calls before that are missed (Stats.MaxDelay). Past
	// maxProcsPerFile processes, a file is probed for all instead: each
	// process's probes are a consumer the kernel walks at every hit.
	PerProcess Scope = iota
	// All attaches a file's probes once, for every process that maps it:
	// processes yet to start (selected by name) are traced from their
	// first call; the programs choose the traced processes.
	All
)

// Stats are what the prober did.
type Stats struct {
	// Files is how many library files (or executables with a library
	// linked in) were probed.
	Files int
	// Unprobed is how many could not be, each said once in the log.
	Unprobed int
	// MaxDelay is the longest time from a traced process mapping a
	// library (or forking with it mapped) to its probes being live: what
	// a call in that window would miss.
	MaxDelay time.Duration
	// Dropped counts processes not looked at: the queue was full.
	Dropped int
}

// maxProcsPerFile is how many processes a file is probed for, one by one,
// before it is probed for every process.
const maxProcsPerFile = 64

// file is one library file (or executable) met in a traced process.
type file struct {
	// points are its probes, found once; nil when it has nothing to probe
	// or could not be probed.
	points []probePoint
	// all: attached for every process (scope All).
	all bool
	// pids: how to detach each traced process's probes (scope PerProcess).
	pids map[int][]func() error
	// probed: attached at least once, so counted in Stats.Files.
	probed bool
	// failed: attach errors already said, by text (PerProcess: one
	// process's failure does not end the file's probing).
	failed map[string]bool
}

// Prober attaches library probes for traced processes. Its methods are
// safe for concurrent use; the slow work runs on its own goroutine.
type Prober struct {
	att      Attacher
	log      logrus.FieldLogger
	procRoot string
	hostRoot string               // where the host's files are ("/", or a test's tree)
	now      func() time.Duration // the records' clock (monotonic)
	scope    Scope

	// scanMu makes one scan at a time, so that a file is found and
	// attached once per process; it guards files.
	scanMu sync.Mutex
	files  map[userbin.FileID]*file
	mu     sync.Mutex // guards stats and exited
	stats  Stats
	// exited are processes whose probes are to be detached: never dropped
	// (a full queue would leak their perf events), and detached before the
	// next job, which may be about a new process with the same PID.
	exited []int

	jobs chan job
	poke chan struct{} // exited has news
	done chan struct{}
}

// jobKind is what happened to a process that makes it looked at again.
type jobKind uint8

const (
	jobExec   jobKind = iota // it exec'd: a new image, maybe OpenSSL or Go TLS linked in
	jobMapped                // it mapped a TLS library (at)
	jobForked                // it is a new child (at), with its parent's libraries
)

// job is a process to look at again; at, on the records' clock, is when
// the library became callable in it.
type job struct {
	kind jobKind
	pid  int
	at   time.Duration
}

// sweepEvery is how often the processes probed one by one are checked
// for being alive, for an exit whose record was lost.
const sweepEvery = 10 * time.Second

// mapWait is how long a process that mapped a TLS library is watched for
// the mapping to show in its maps (the record comes from the mmap's entry).
const mapWait = 200 * time.Millisecond

// New returns a prober that attaches with att, for the processes scope
// says. now is the monotonic clock the records' timestamps use.
func New(att Attacher, log logrus.FieldLogger, procRoot string, now func() time.Duration, scope Scope) *Prober {
	return &Prober{att: att, log: log, procRoot: procRoot, hostRoot: "/", now: now, scope: scope,
		files: map[userbin.FileID]*file{}, jobs: make(chan job, 1024), poke: make(chan struct{}, 1), done: make(chan struct{})}
}

// Run does the queued work until ctx is done.
func (p *Prober) Run(ctx context.Context) {
	defer close(p.done)
	sweep := time.NewTicker(sweepEvery)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.poke:
			p.detachExited()
		case <-sweep.C:
			p.detachExited()
			p.sweep()
		case j := <-p.jobs:
			p.detachExited()
			p.handle(ctx, j)
		}
	}
}

// Wait returns once Run has returned.
func (p *Prober) Wait() { <-p.done }

// Scan probes what process pid maps now, before returning.
func (p *Prober) Scan(pid int) { p.scan(pid) }

// Exec queues a look at a process that exec'd (its executable may have a
// TLS library linked in).
func (p *Prober) Exec(pid int) { p.queue(job{kind: jobExec, pid: pid}) }

// Mapped queues a look at a process that mapped a TLS library at at.
func (p *Prober) Mapped(pid int, at time.Duration) { p.queue(job{kind: jobMapped, pid: pid, at: at}) }

// Forked queues a look at a traced process's new child, forked at at:
// per process, it needs its own probes.
func (p *Prober) Forked(pid int, at time.Duration) {
	if p.scope == PerProcess {
		p.queue(job{kind: jobForked, pid: pid, at: at})
	}
}

// Running queues a look at a process found running (a selected
// container's): its libraries are probed as a fork's are, and the probes it
// has already kept (unlike Exec, which drops them for a new image).
func (p *Prober) Running(pid int) { p.queue(job{kind: jobForked, pid: pid, at: p.now()}) }

// Exited has an exited process's probes detached, before any job queued
// after it.
func (p *Prober) Exited(pid int) {
	if p.scope != PerProcess {
		return
	}
	p.mu.Lock()
	p.exited = append(p.exited, pid)
	p.mu.Unlock()
	select {
	case p.poke <- struct{}{}:
	default:
	}
}

func (p *Prober) detachExited() {
	p.mu.Lock()
	pids := p.exited
	p.exited = nil
	p.mu.Unlock()
	for _, pid := range pids {
		p.forget(pid)
	}
}

// sweep detaches the probes of processes that are gone, for exits whose
// record was lost (a full ring).
func (p *Prober) sweep() {
	p.scanMu.Lock()
	defer p.scanMu.Unlock()
	for _, f := range p.files {
		for pid := range f.pids {
			if !p.alive(pid) {
				p.forgetLocked(pid)
			}
		}
	}
}

// alive says whether process pid is still listed.
func (p *Prober) alive(pid int) bool {
	_, err := os.Stat(filepath.Join(p.procRoot, strconv.Itoa(pid)))
	return err == nil
}

func (p *Prober) queue(j job) {
	select {
	case p.jobs <- j:
	default:
		p.mu.Lock()
		p.stats.Dropped++
		p.mu.Unlock()
		p.log.WithField("pid", j.pid).Warn("library probe queue full: process not looked at")
	}
}

// Stats returns the counts so far.
func (p *Prober) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// handle looks at a process; after a mapping, until the library shows.
func (p *Prober) handle(ctx context.Context, j job) {
	switch j.kind {
	case jobExec:
		// A new image: probes attached before (to the process's leader,
		// which an exec from another thread replaces) are dropped.
		p.forget(j.pid)
		p.scan(j.pid)
		return
	case jobForked:
		if p.scan(j.pid) {
			p.noteDelay(j)
		}
		return
	}
	deadline := time.Now().Add(mapWait)
	for {
		found, attached, err := p.scanLibraries(j.pid)
		if found > 0 {
			if attached {
				p.noteDelay(j)
			}
			return
		}
		if errors.Is(err, fs.ErrNotExist) {
			return // the process is gone
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.log.WithField("pid", j.pid).Debug("a mapped TLS library did not show in the process's maps")
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (p *Prober) noteDelay(j job) {
	d := p.now() - j.at
	p.mu.Lock()
	if d > p.stats.MaxDelay {
		p.stats.MaxDelay = d
	}
	p.mu.Unlock()
	p.log.WithFields(logrus.Fields{"pid": j.pid, "delay": d}).Debug("TLS library probed after the process could call it")
}

// scan probes the TLS library files process pid maps and its executable,
// and says whether it attached any probe just now.
func (p *Prober) scan(pid int) bool {
	_, libs, _ := p.scanLibraries(pid)
	// OpenSSL or Go's crypto/tls linked into the executable.
	p.scanMu.Lock()
	defer p.scanMu.Unlock()
	_, exe := p.probe(pid, userbin.Executable(p.procRoot, pid), "", false)
	return libs || exe
}

// scanLibraries probes the TLS library files process pid maps, and
// returns how many it maps (probed now or before), and whether it
// attached any probe just now.
func (p *Prober) scanLibraries(pid int) (found int, attached bool, err error) {
	p.scanMu.Lock()
	defer p.scanMu.Unlock()
	maps, err := userbin.Mappings(p.procRoot, pid)
	if err != nil {
		p.log.WithError(err).WithField("pid", pid).Debug("reading a process's mappings")
		return 0, false, err
	}
	for _, m := range maps {
		if m.Exec && isTLSLibrary(m.Path) {
			found++
			if _, now := p.probe(pid, userbin.HostPath(p.procRoot, pid, m.Path), m.Path, true); now {
				attached = true
			}
		}
	}
	return found, attached, nil
}

// isTLSLibrary says whether a mapped file is a TLS library by its name:
// OpenSSL's libssl.so.* (not NSS's libssl3.so).
func isTLSLibrary(path string) bool {
	return strings.HasPrefix(filepath.Base(path), "libssl.so")
}

// hostLibraryGlobs are where a distribution keeps its libssl.
var hostLibraryGlobs = []string{"/usr/lib/*/libssl.so.*", "/lib/*/libssl.so.*", "/usr/lib/libssl.so.*", "/usr/lib64/libssl.so.*", "/lib64/libssl.so.*"}

// ProbeHost probes the host's own OpenSSL libraries now, for every
// process (scope All), so that a process started later that maps one is
// traced from its first call, with no window at all (a library elsewhere
// is probed when mapped). Per process, it does nothing.
func (p *Prober) ProbeHost() {
	if p.scope != All {
		return
	}
	p.scanMu.Lock()
	defer p.scanMu.Unlock()
	for _, g := range hostLibraryGlobs {
		matches, _ := filepath.Glob(filepath.Join(p.hostRoot, g))
		for _, m := range matches {
			p.probe(0, m, "", true)
		}
	}
}

// forget detaches process pid's probes.
func (p *Prober) forget(pid int) {
	p.scanMu.Lock()
	defer p.scanMu.Unlock()
	p.forgetLocked(pid)
}

func (p *Prober) forgetLocked(pid int) {
	for _, f := range p.files {
		if detach, ok := f.pids[pid]; ok {
			delete(f.pids, pid)
			p.detach(pid, detach)
		}
	}
}

// detach undoes attaches, the last first: the entries go before the
// returns that consume what they save.
func (p *Prober) detach(pid int, detach []func() error) {
	for i := len(detach) - 1; i >= 0; i-- {
		if err := detach[i](); err != nil {
			p.log.WithError(err).WithField("pid", pid).Debug("detaching TLS probes")
		}
	}
}

// probe finds the TLS functions of the file at path (shown as name) once
// per file, and attaches them for process pid (scope PerProcess) or for
// all (once). It says whether the file is probed for pid, and whether
// that was done just now. A library (lib) without the functions is
// unprobed and said; an executable without them is simply not one that
// links TLS in. Called with scanMu held.
func (p *Prober) probe(pid int, path, name string, lib bool) (probed, now bool) {
	id, err := userbin.Identify(path)
	if err != nil {
		p.log.WithError(err).WithField("pid", pid).Debug("finding a mapped file")
		return false, false
	}
	if name == "" {
		name = path
	}
	log := p.log.WithFields(logrus.Fields{"pid": pid, "file": name})
	f, met := p.files[id]
	if !met {
		f = &file{pids: map[int][]func() error{}, failed: map[string]bool{}}
		p.files[id] = f
		f.points, err = p.points(path, lib)
		if err != nil && (lib || !errors.Is(err, errNoFunctions)) {
			p.unprobed(log, err)
		}
	}
	if f.points == nil {
		return false, false
	}
	if f.all || f.pids[pid] != nil {
		return true, false
	}
	target := pid
	if p.scope == All || len(f.pids) >= maxProcsPerFile {
		target = AllProcesses
	}
	detach, err := p.attachAll(path, f.points, target)
	if err != nil && target != AllProcesses && denied(err) {
		// Probing one process takes the right to trace it (ptrace's
		// check: CAP_SYS_PTRACE, or the same user and a dumpable process);
		// probing the file for all takes none.
		log.WithError(err).Info("TLS probes for this process refused: its library is probed for every process instead")
		target = AllProcesses
		detach, err = p.attachAll(path, f.points, target)
	}
	switch {
	case err == nil:
	case target != AllProcesses && p.gone(pid, err):
		log.WithError(err).Debug("a process exited before its TLS probes were attached")
		return false, false
	case target != AllProcesses:
		// This process only (a limit on open files): others may still be
		// probed. Each reason is said once per file.
		if !f.failed[err.Error()] {
			f.failed[err.Error()] = true
			p.unprobed(log, err)
		}
		return false, false
	default:
		f.points = nil // said once: the file is not tried again
		p.unprobed(log, err)
		return false, false
	}
	if target == AllProcesses {
		f.all = true
		if p.scope == PerProcess {
			log.WithField("processes", len(f.pids)).Info("TLS library probed for every process: more traced processes map it than are probed one by one")
		}
		for other, d := range f.pids {
			delete(f.pids, other)
			p.detach(other, d)
		}
	} else {
		f.pids[pid] = detach
	}
	if !f.probed {
		f.probed = true
		p.mu.Lock()
		p.stats.Files++
		p.mu.Unlock()
		log.WithField("probes", len(f.points)).Info("TLS library probed")
	} else {
		log.Debug("TLS library probed for another process")
	}
	return true, true
}

func (p *Prober) unprobed(log logrus.FieldLogger, err error) {
	p.mu.Lock()
	p.stats.Unprobed++
	p.mu.Unlock()
	log.WithError(err).Warn("TLS library not probed: its connections' plaintext is not traced")
}

// denied says whether an attach for one process was refused for want of
// the right to trace it.
func denied(err error) bool {
	return errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

// gone says whether an attach for process pid failed because the process
// is gone: the kernel found no such task, or the process is no longer
// listed (a file named through its root is then gone too). An ENOENT of a
// live process (no uprobe support, a deleted library) is a failure.
func (p *Prober) gone(pid int, err error) bool {
	return errors.Is(err, syscall.ESRCH) || (errors.Is(err, fs.ErrNotExist) && !p.alive(pid))
}
