package libprobe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/internal/gotlsprog"
	"github.com/httptrace/httptrace/pkg/probes"
	"github.com/httptrace/httptrace/pkg/userbin"
)

// attach is one AttachUprobe call.
type attach struct {
	prog   string
	offset uint64
	ret    bool
	pid    int
}

// recorder is an Attacher that records what it is asked, optionally failing.
type recorder struct {
	mu        sync.Mutex
	calls     []attach // live attaches
	attaches  int      // attaches ever made
	failAfter int      // refuse attaches once this many are live (-1: never)
	gonePID   int      // a process that has exited: its attaches fail with ESRCH
	deniedPID int      // a process whose attaches fail with EACCES (not dumpable)
}

func (r *recorder) AttachUprobe(prog, path string, offset uint64, ret bool, pid int) (func() error, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failAfter >= 0 && len(r.calls) >= r.failAfter {
		return nil, errors.New("attach refused")
	}
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	if pid == r.gonePID && pid != 0 {
		return nil, fmt.Errorf("perf_event_open: %w", syscall.ESRCH)
	}
	if pid == r.deniedPID && pid != 0 {
		return nil, fmt.Errorf("perf_event_open: %w", syscall.EACCES)
	}
	a := attach{prog, offset, ret, pid}
	r.calls = append(r.calls, a)
	r.attaches++
	return func() error {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls = slices.DeleteFunc(r.calls, func(b attach) bool { return b == a })
		return nil
	}, nil
}

func (r *recorder) taken() []attach {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]attach(nil), r.calls...)
}

func newProber(r *recorder, scope Scope) *Prober {
	log := logrus.New()
	log.SetOutput(io.Discard)
	return New(r, log, "/proc", func() time.Duration { return 0 }, scope)
}

// A stripped Go executable with crypto/tls: an entry uprobe per function
// and one at each RET (no uretprobes), once per file; a copy of the file
// (another inode) is probed again.
func TestProbeGoExecutable(t *testing.T) {
	path := gotlsprog.Build(t, "prog", nil, "-ldflags=-s -w")
	dir := filepath.Dir(path)
	r := &recorder{failAfter: -1}
	p := newProber(r, All)
	p.probe(0, path, "", false)
	got := r.taken()
	for _, a := range got {
		if a.pid != AllProcesses {
			t.Fatalf("scope All attached for pid %d, want %d", a.pid, AllProcesses)
		}
	}
	syms, err := userbin.Functions(path, "crypto/tls.(*Conn).Read", "crypto/tls.(*Conn).Write")
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, u := range probes.LibraryUprobes(probes.LibGoTLS) {
		s := syms[u.Symbol]
		rets, err := userbin.RetOffsets(path, s)
		if err != nil {
			t.Fatal(err)
		}
		body, err := userbin.GoBodyOffset(path, s)
		if err != nil || body <= s.Offset || body >= s.Offset+32 {
			t.Fatalf("%s: body at %#x (%v), want in the function's first 32 bytes past %#x", u.Symbol, body, err, s.Offset)
		}
		want += 1 + len(rets)
		entry, atRets := 0, 0
		for _, a := range got {
			if a.ret {
				t.Errorf("a uretprobe on Go code: %+v", a)
			}
			switch {
			case a.prog == u.Entry && a.offset == body:
				entry++
			case a.prog == u.Return && a.offset > s.Offset && a.offset < s.Offset+s.Size:
				atRets++
			}
		}
		if entry != 1 || atRets != len(rets) {
			t.Errorf("%s: %d entry probes and %d at RETs, want 1 and %d", u.Symbol, entry, atRets, len(rets))
		}
	}
	if len(got) != want {
		t.Errorf("%d attaches, want %d: %+v", len(got), want, got)
	}
	// The RET probes first: no entry is live without its returns.
	for i, a := range got {
		if isEntry := a.prog == probes.ProgUprobeGoTLSRead || a.prog == probes.ProgUprobeGoTLSWrite; isEntry != (i >= len(got)-2) {
			t.Errorf("attach %d of %d is %s: want the two entries last", i, len(got), a.prog)
		}
	}
	p.probe(0, path, "", false)
	if n := len(r.taken()); n != want {
		t.Errorf("probed again: %d attaches, want %d (once per file)", n, want)
	}
	raw, _ := os.ReadFile(path)
	copyPath := filepath.Join(dir, "copy")
	os.WriteFile(copyPath, raw, 0o755)
	p.probe(0, copyPath, "", false)
	if n := len(r.taken()); n != 2*want {
		t.Errorf("a copy (another inode): %d attaches in all, want %d", n, 2*want)
	}
	if s := p.Stats(); s.Files != 2 || s.Unprobed != 0 {
		t.Errorf("stats %+v, want 2 files probed, none unprobed", s)
	}
}

// OpenSSL: an entry uprobe and a uretprobe per function.
func TestProbeLibssl(t *testing.T) {
	matches, _ := filepath.Glob("/usr/lib/*/libssl.so.3")
	if len(matches) == 0 {
		t.Skip("no libssl.so.3")
	}
	r := &recorder{failAfter: -1}
	p := newProber(r, All)
	p.probe(0, matches[0], "", true)
	got := r.taken()
	if len(got) != 2*len(probes.LibraryUprobes(probes.LibOpenSSL)) {
		t.Fatalf("%d attaches, want %d: %+v", len(got), 2*len(probes.LibraryUprobes(probes.LibOpenSSL)), got)
	}
	// Every uretprobe before any entry: no entry is live without its return.
	for i, a := range got {
		if a.ret != (i < len(got)/2) {
			t.Errorf("attach %d: %+v, want the uretprobes first, then the entries", i, a)
		}
	}
	// One refused attach: what was attached is detached, the file is counted
	// unprobed, and probed no more.
	r2 := &recorder{failAfter: 3}
	p2 := newProber(r2, All)
	p2.probe(0, matches[0], "", true)
	if n := len(r2.taken()); n != 0 || p2.Stats().Unprobed != 1 || p2.Stats().Files != 0 {
		t.Errorf("after a refused attach: %d probes left attached, stats %+v; want none, 1 unprobed", n, p2.Stats())
	}
}

// Neither a TLS library nor a Go program: nothing attached, nothing said;
// a library named libssl without OpenSSL's functions is counted unprobed,
// once.
func TestNothingToProbe(t *testing.T) {
	r := &recorder{failAfter: -1}
	p := newProber(r, All)
	p.probe(0, "/bin/sh", "", false)
	if len(r.taken()) != 0 || p.Stats() != (Stats{}) {
		t.Errorf("/bin/sh: attaches %+v, stats %+v, want none", r.taken(), p.Stats())
	}
	raw, err := os.ReadFile("/bin/sh")
	if err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(t.TempDir(), "libssl.so.9")
	if err := os.WriteFile(fake, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	p.probe(0, fake, "", true)
	p.probe(0, fake, "", true)
	if s := p.Stats(); s.Unprobed != 1 || s.Files != 0 {
		t.Errorf("a libssl without SSL_read: stats %+v, want 1 unprobed", s)
	}
}

// A process that mapped libssl (Python after import ssl): Scan finds it in
// the process's mappings, through /proc/PID/root.
func TestScanProcess(t *testing.T) {
	cmd := startPythonSSL(t)
	r := &recorder{failAfter: -1}
	p := newProber(r, PerProcess)
	if n, _, err := p.scanLibraries(cmd.Process.Pid); n != 1 || err != nil {
		t.Fatalf("python3 with ssl imported maps %d TLS libraries (%v), want 1", n, err)
	}
	if len(r.taken()) == 0 || p.Stats().Files != 1 {
		t.Errorf("attaches %+v, stats %+v, want libssl probed", r.taken(), p.Stats())
	}
}

// Per process: each traced process gets the file's probes once, for its
// pid; an exit detaches them (the entries first); a process gone before
// its attach is neither an error nor the file's end; past
// maxProcsPerFile processes the file is probed for all.
func TestProbePerProcess(t *testing.T) {
	lib := hostLibssl(t)
	per := 2 * len(probes.LibraryUprobes(probes.LibOpenSSL))
	r := &recorder{failAfter: -1, gonePID: 300}
	p := newProber(r, PerProcess)
	count := countOf(r)
	for _, pid := range []int{100, 100, 200} {
		if probed, _ := p.probe(pid, lib, "", true); !probed {
			t.Fatalf("libssl not probed for pid %d", pid)
		}
	}
	if count(100) != per || count(200) != per || len(r.taken()) != 2*per {
		t.Fatalf("pid 100: %d probes, pid 200: %d, in all %d; want %d each", count(100), count(200), len(r.taken()), per)
	}
	if probed, _ := p.probe(300, lib, "", true); probed {
		t.Error("probed for a process that is gone")
	}
	if probed, now := p.probe(400, lib, "", true); !probed || !now || count(400) != per {
		t.Errorf("after a gone process, pid 400: probed %v now %v with %d probes, want %d", probed, now, count(400), per)
	}
	if s := p.Stats(); s.Files != 1 || s.Unprobed != 0 {
		t.Errorf("stats %+v, want 1 file, none unprobed", s)
	}
	p.forget(100)
	if count(100) != 0 || count(200) != per {
		t.Errorf("after pid 100 exited: %d and %d probes, want 0 and %d", count(100), count(200), per)
	}
	// ProbeHost is for scope All only.
	p.ProbeHost()
	if count(AllProcesses) != 0 {
		t.Errorf("ProbeHost per process attached %d probes for all", count(AllProcesses))
	}
	// Many processes: probed for all, the per-process probes detached.
	for pid := 1000; pid < 1000+maxProcsPerFile+1; pid++ {
		p.probe(pid, lib, "", true)
	}
	if count(AllProcesses) != per || len(r.taken()) != per {
		t.Errorf("past %d processes: %d probes for all, %d in all; want %d and nothing else", maxProcsPerFile, count(AllProcesses), len(r.taken()), per)
	}
	if probed, now := p.probe(5000, lib, "", true); !probed || now {
		t.Errorf("a process after the file is probed for all: probed %v now %v, want probed before", probed, now)
	}
}

// A process the tracer may not trace (EACCES: not dumpable, another user,
// no CAP_SYS_PTRACE): its library is probed for every process instead,
// nothing counted unprobed.
func TestProbeDeniedProcess(t *testing.T) {
	lib := hostLibssl(t)
	per := 2 * len(probes.LibraryUprobes(probes.LibOpenSSL))
	r := &recorder{failAfter: -1, deniedPID: 500}
	p := newProber(r, PerProcess)
	count := countOf(r)
	p.probe(100, lib, "", true)
	if probed, now := p.probe(500, lib, "", true); !probed || !now {
		t.Errorf("a denied process: probed %v now %v, want its library probed for all", probed, now)
	}
	if count(AllProcesses) != per || len(r.taken()) != per {
		t.Errorf("%d probes for all, %d in all; want %d and nothing else", count(AllProcesses), len(r.taken()), per)
	}
	if s := p.Stats(); s.Files != 1 || s.Unprobed != 0 {
		t.Errorf("stats %+v, want 1 file, none unprobed", s)
	}
}

func hostLibssl(t *testing.T) string {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/*/libssl.so.3")
	if len(matches) == 0 {
		t.Skip("no libssl.so.3")
	}
	return matches[0]
}

// countOf counts r's live attaches for a pid.
func countOf(r *recorder) func(pid int) int {
	return func(pid int) int {
		n := 0
		for _, a := range r.taken() {
			if a.pid == pid {
				n++
			}
		}
		return n
	}
}

// Jobs: a fork is probed and timed, an exit detaches before the next job
// (which may be about a new process with the same PID), an exec drops the
// old image's probes and probes the new one.
func TestJobs(t *testing.T) {
	pid := startPythonSSL(t).Process.Pid
	r := &recorder{failAfter: -1}
	log := logrus.New()
	log.SetOutput(io.Discard)
	clock := 50 * time.Millisecond
	p := New(r, log, "/proc", func() time.Duration { return clock }, PerProcess)
	ctx, cancel := context.WithCancel(context.Background())
	go p.Run(ctx)
	defer func() { cancel(); p.Wait() }()
	settle := func(what string, want int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for len(r.taken()) != want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := len(r.taken()); n != want {
			t.Fatalf("%s: %d probes attached, want %d", what, n, want)
		}
	}
	per := 2 * len(probes.LibraryUprobes(probes.LibOpenSSL))
	p.Forked(pid, 20*time.Millisecond)
	settle("forked", per)
	// The delay is noted just after the last probe is attached.
	for deadline := time.Now().Add(5 * time.Second); p.Stats().MaxDelay == 0 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	if d := p.Stats().MaxDelay; d != 30*time.Millisecond {
		t.Errorf("delay after a fork %v, want 30ms (probed at 50ms, forked at 20ms)", d)
	}
	p.Exited(pid)
	settle("exited", 0)
	p.Exec(pid)
	settle("exec'd", per)
	// A process found running again (a container's, listed again) keeps
	// its probes: nothing detached and attached anew.
	r.mu.Lock()
	before := r.attaches
	r.mu.Unlock()
	p.Running(pid)
	time.Sleep(300 * time.Millisecond)
	settle("found running", per)
	r.mu.Lock()
	again := r.attaches - before
	r.mu.Unlock()
	if again != 0 {
		t.Errorf("Running on a probed process attached %d probes anew, want 0", again)
	}
	// An exit, then a new process with the same PID: the exit is applied
	// first, whichever the prober's loop takes first.
	for i := 0; i < 20; i++ {
		p.Exited(pid)
		p.Forked(pid, clock)
		time.Sleep(10 * time.Millisecond)
		settle("exited, then forked with the same PID", per)
	}
	p.Exited(pid)
	settle("exited at last", 0)
}

// startPythonSSL starts a python3 that has imported ssl (so maps libssl),
// stopped when the test ends.
func startPythonSSL(t *testing.T) *exec.Cmd {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	cmd := exec.Command(py, "-c", "import ssl, sys, time; print('up', flush=True); time.sleep(30)")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if _, err := io.ReadFull(out, make([]byte, 3)); err != nil {
		t.Fatal(err)
	}
	return cmd
}
