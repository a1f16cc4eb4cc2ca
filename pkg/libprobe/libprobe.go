// Package libprobe attaches the uprobes of probes.Uprobes to the library
// files traced processes map: once per file (by device and inode, so a
// container's private copy is a file of its own), found through the
// process's root, when tracing starts and whenever a traced process execs
// or maps a TLS library. A file that cannot be probed is said once, with
// the reason, and counted.
package libprobe

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/probes"
	"github.com/httptrace/httptrace/pkg/userbin"
)

// Attacher attaches a program at a function of a file (tracer.Tracer),
// and returns how to detach it.
type Attacher interface {
	AttachUprobe(prog, path string, offset uint64, ret bool) (detach func() error, err error)
}

// Stats are what the prober did.
type Stats struct {
	// Files is how many library files (or executables with a library
	// linked in) were probed.
	Files int
	// Unprobed is how many could not be, each said once in the log.
	Unprobed int
	// MaxDelay is the longest time from a traced process mapping a
	// library to its probes being live: what a call in that window would
	// miss.
	MaxDelay time.Duration
	// Dropped counts processes not looked at: the queue was full.
	Dropped int
}

// Prober attaches library probes for traced processes. Its methods are
// safe for concurrent use; the slow work runs on its own goroutine.
type Prober struct {
	att      Attacher
	log      logrus.FieldLogger
	procRoot string
	hostRoot string               // where the host's files are ("/", or a test's tree)
	now      func() time.Duration // the records' clock (monotonic)

	// scanMu makes one scan at a time, so that a file is probed once.
	scanMu sync.Mutex
	mu     sync.Mutex
	files  map[userbin.FileID]bool // true: probed; false: nothing to probe or not probeable
	stats  Stats

	jobs chan job
	done chan struct{}
}

// job is a process to look at again: after an exec, or after it mapped a
// library (mappedAt, on the records' clock, is when).
type job struct {
	pid      int
	mappedAt time.Duration
}

// mapWait is how long a process that mapped a TLS library is watched for
// the mapping to show in its maps (the record comes from the mmap's entry).
const mapWait = 200 * time.Millisecond

// New returns a prober that attaches with att. now is the monotonic clock
// the records' timestamps use.
func New(att Attacher, log logrus.FieldLogger, procRoot string, now func() time.Duration) *Prober {
	return &Prober{att: att, log: log, procRoot: procRoot, hostRoot: "/", now: now,
		files: map[userbin.FileID]bool{}, jobs: make(chan job, 1024), done: make(chan struct{})}
}

// Run does the queued work until ctx is done.
func (p *Prober) Run(ctx context.Context) {
	defer close(p.done)
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-p.jobs:
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
func (p *Prober) Exec(pid int) { p.queue(job{pid: pid}) }

// Mapped queues a look at a process that mapped a TLS library at at.
func (p *Prober) Mapped(pid int, at time.Duration) { p.queue(job{pid: pid, mappedAt: at}) }

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
	if j.mappedAt == 0 {
		p.scan(j.pid)
		return
	}
	deadline := time.Now().Add(mapWait)
	for {
		found, err := p.scanLibraries(j.pid)
		if found > 0 {
			p.noteDelay(j)
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
	d := p.now() - j.mappedAt
	p.mu.Lock()
	if d > p.stats.MaxDelay {
		p.stats.MaxDelay = d
	}
	p.mu.Unlock()
	p.log.WithFields(logrus.Fields{"pid": j.pid, "delay": d}).Debug("TLS library probed after the process mapped it")
}

// scan probes the TLS library files process pid maps and its executable.
func (p *Prober) scan(pid int) {
	_, _ = p.scanLibraries(pid)
	// OpenSSL linked into the executable (Node).
	p.scanMu.Lock()
	defer p.scanMu.Unlock()
	p.probe(pid, userbin.Executable(p.procRoot, pid), "", false)
}

// scanLibraries probes the TLS library files process pid maps, and
// returns how many it maps (probed now or before).
func (p *Prober) scanLibraries(pid int) (int, error) {
	p.scanMu.Lock()
	defer p.scanMu.Unlock()
	maps, err := userbin.Mappings(p.procRoot, pid)
	if err != nil {
		p.log.WithError(err).WithField("pid", pid).Debug("reading a process's mappings")
		return 0, err
	}
	found := 0
	for _, m := range maps {
		if m.Exec && isTLSLibrary(m.Path) {
			found++
			p.probe(pid, userbin.HostPath(p.procRoot, pid, m.Path), m.Path, true)
		}
	}
	return found, nil
}

// isTLSLibrary says whether a mapped file is a TLS library by its name:
// OpenSSL's libssl.so.* (not NSS's libssl3.so).
func isTLSLibrary(path string) bool {
	return strings.HasPrefix(filepath.Base(path), "libssl.so")
}

// hostLibraryGlobs are where a distribution keeps its libssl.
var hostLibraryGlobs = []string{"/usr/lib/*/libssl.so.*", "/lib/*/libssl.so.*", "/usr/lib/libssl.so.*", "/usr/lib64/libssl.so.*", "/lib64/libssl.so.*"}

// ProbeHost probes the host's own OpenSSL libraries now, so that a
// process started later that maps one is traced from its first call,
// with no window at all (a library elsewhere is probed when mapped).
func (p *Prober) ProbeHost() {
	p.scanMu.Lock()
	defer p.scanMu.Unlock()
	for _, g := range hostLibraryGlobs {
		matches, _ := filepath.Glob(filepath.Join(p.hostRoot, g))
		for _, m := range matches {
			p.probe(0, m, "", true)
		}
	}
}

// probe attaches the OpenSSL probes to the file at path (shown as name),
// once per file. A library (lib) without them is unprobed and said; an
// executable without them is simply not one that links OpenSSL in.
func (p *Prober) probe(pid int, path, name string, lib bool) {
	id, err := userbin.Identify(path)
	if err != nil {
		p.log.WithError(err).WithField("pid", pid).Debug("finding a mapped file")
		return
	}
	p.mu.Lock()
	_, seen := p.files[id]
	p.mu.Unlock()
	if seen {
		return
	}
	if name == "" {
		name = path
	}
	log := p.log.WithFields(logrus.Fields{"pid": pid, "file": name})
	n, err := p.attach(path, lib)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.files[id] = n > 0
	switch {
	case err == nil:
		p.stats.Files++
		log.WithField("probes", n).Info("TLS library probed")
	case lib || !errors.Is(err, errNoFunctions):
		p.stats.Unprobed++
		log.WithError(err).Warn("TLS library not probed: its connections' plaintext is not traced")
	}
}

// errNoFunctions: the file lacks a required function.
var errNoFunctions = errors.New("required functions not found")

// attach attaches the TLS functions the file has: OpenSSL's, or (an
// executable built by Go) crypto/tls's, and returns how many probes it
// attached. The file is held open meanwhile and named through the open
// descriptor, so that a process that exits (and takes its /proc/PID/root
// with it) does not fail the attach.
func (p *Prober) attach(path string, lib bool) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	path = fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	if !lib {
		if version := userbin.GoVersion(path); version != "" {
			return p.attachGo(path, version)
		}
	}
	return p.attachLibrary(path, probes.LibOpenSSL)
}

// probePoint is one uprobe to attach: a program at a file offset.
type probePoint struct {
	prog   string
	offset uint64
	ret    bool // a uretprobe
	entry  bool // at a function's entry (else at its return)
}

// attachAll attaches every point, the returns first: an entry is never live
// without the return that consumes what it saves (a call in flight that
// is missed at its return would leave its thread marked inside a TLS call).
// If one fails, those already attached are detached again: a file is
// probed whole or not at all.
func (p *Prober) attachAll(path string, points []probePoint) (int, error) {
	var detach []func() error
	for _, entries := range []bool{false, true} {
		for _, pt := range points {
			if pt.entry != entries {
				continue
			}
			d, err := p.att.AttachUprobe(pt.prog, path, pt.offset, pt.ret)
			if err != nil {
				for _, undo := range detach {
					if derr := undo(); derr != nil {
						p.log.WithError(derr).Warn("detaching a probe of a file not probed")
					}
				}
				return 0, err
			}
			detach = append(detach, d)
		}
	}
	return len(points), nil
}

// attachLibrary attaches the functions of lib the file has, with
// uretprobes.
func (p *Prober) attachLibrary(path string, lib probes.Library) (int, error) {
	ups, syms, err := functionsOf(path, lib)
	if err != nil {
		return 0, err
	}
	var points []probePoint
	for _, u := range ups {
		s, ok := syms[u.Symbol]
		if !ok {
			if u.Required {
				return 0, fmt.Errorf("%s: %w (no symbols: stripped, or not OpenSSL)", u.Symbol, errNoFunctions)
			}
			continue
		}
		points = append(points, probePoint{u.Entry, s.Offset, false, true}, probePoint{u.Return, s.Offset, true, false})
	}
	return p.attachAll(path, points)
}

// attachGo attaches crypto/tls's Read and Write in a Go executable built by
// Go version: a uprobe at each entry and one at each RET instruction.
// An executable without crypto/tls is not a TLS one (errNoFunctions).
func (p *Prober) attachGo(path, version string) (int, error) {
	ups, syms, err := functionsOf(path, probes.LibGoTLS)
	if err != nil {
		return 0, err
	}
	if len(syms) == 0 {
		return 0, fmt.Errorf("crypto/tls: %w", errNoFunctions)
	}
	if minor := userbin.GoMinor(version); minor < userbin.GoMinMinor {
		return 0, fmt.Errorf("built by %s: crypto/tls is probed from go1.%d (the register ABI)", version, userbin.GoMinMinor)
	}
	off, _, err := userbin.GoTLSOffsetsOf(path, version)
	if err != nil {
		return 0, err
	}
	if off != userbin.KnownGoTLSOffsets {
		return 0, fmt.Errorf("built by %s: crypto/tls.Conn's socket is at offsets %+v, the probes read %+v", version, off, userbin.KnownGoTLSOffsets)
	}
	var points []probePoint
	for _, u := range ups {
		s, ok := syms[u.Symbol]
		if !ok {
			return 0, fmt.Errorf("%s: %w", u.Symbol, errNoFunctions)
		}
		// A uprobe must sit on an instruction: the function is checked to
		// start as Go code does and is disassembled whole.
		if err := userbin.CheckGoEntry(path, s); err != nil {
			return 0, err
		}
		rets, err := userbin.RetOffsets(path, s)
		if err != nil {
			return 0, err
		}
		points = append(points, probePoint{u.Entry, s.Offset, false, true})
		for _, r := range rets {
			points = append(points, probePoint{u.Return, r, false, false})
		}
	}
	return p.attachAll(path, points)
}

// functionsOf finds the functions of lib's probes in the file at path.
func functionsOf(path string, lib probes.Library) ([]probes.Uprobe, map[string]userbin.Symbol, error) {
	ups := probes.LibraryUprobes(lib)
	names := make([]string, len(ups))
	for i, u := range ups {
		names[i] = u.Symbol
	}
	syms, err := userbin.Functions(path, names...)
	return ups, syms, err
}
