// Package bpfobj embeds the compiled BPF object (built by make from bpf/)
// and opens it with libbpf.
package bpfobj

import (
	_ "embed"
	"fmt"
	"os"
	"strings"

	bpf "github.com/aquasecurity/libbpfgo"
	"golang.org/x/sys/unix"

	"github.com/httptrace/httptrace/pkg/kernel"

	// libbpf itself, linked statically.
	"github.com/httptrace/httptrace/pkg/libbpf"
)

// Object is the CO-RE object built from bpf/httptrace.bpf.c.
//
//go:embed httptrace.bpf.o
var Object []byte

// ObjectLegacy is the same source built for kernels without bpf_loop
// (before 5.17; HTTPTRACE_LEGACY in bpf/): it copies the bytes of a
// transfer's first event.LegacyMaxIovecs iovecs, where Object walks all of
// them with bpf_loop. (A program that calls bpf_loop cannot load there even
// with the call in dead code: the callback's reference is an instruction
// those kernels refuse. Whether to read the task with plain loads is
// decided in both objects at load, by CO-RE.)
//
//go:embed httptrace_legacy.bpf.o
var ObjectLegacy []byte

// NeedsLegacy reports whether the running kernel needs ObjectLegacy: it
// asks the kernel whether tracing programs may call bpf_loop, and goes by
// the release (before 5.17) when it cannot ask.
func NeedsLegacy(release string) bool {
	ok, err := libbpf.LoopSupported()
	if err != nil {
		return !kernel.AtLeast(release, 5, 17)
	}
	return !ok
}

// Name is the object's name in libbpf's messages.
const Name = "httptrace"

// Module is an opened, not yet loaded, BPF object.
type Module struct {
	*bpf.Module
	file *os.File // memfd holding the object, kept open while libbpf may read it
}

// Open hands the embedded object (the legacy one when legacy is true) to
// libbpf, without loading it into the kernel.
//
// It goes through a memfd rather than libbpfgo's from-buffer constructor
// because that one always raises RLIMIT_MEMLOCK and fails where the process
// may not (CAP_SYS_RESOURCE dropped); the limit is raised only where the
// kernel needs it (see package preflight).
func Open(legacy bool) (*Module, error) {
	obj := Object
	if legacy {
		obj = ObjectLegacy
	}
	fd, err := unix.MemfdCreate(Name+".bpf.o", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating memfd for the BPF object: %w", err)
	}
	f := os.NewFile(uintptr(fd), Name+".bpf.o")
	if _, err := f.Write(obj); err != nil {
		f.Close()
		return nil, fmt.Errorf("writing the BPF object to a memfd: %w", err)
	}
	m, err := bpf.NewModuleFromFileArgs(bpf.NewModuleArgs{
		BPFObjPath:      fmt.Sprintf("/proc/self/fd/%d", fd),
		BPFObjName:      Name,
		SkipMemlockBump: true,
	})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("opening the BPF object: %w", err)
	}
	return &Module{Module: m, file: f}, nil
}

// Close frees the object and everything loaded from it.
func (m *Module) Close() {
	m.Module.Close()
	m.file.Close()
}

// Programs lists the names of the object's programs.
func (m *Module) Programs() []string {
	var names []string
	it := m.Iterator()
	for p := it.NextProgram(); p != nil; p = it.NextProgram() {
		names = append(names, p.Name())
	}
	return names
}

// Maps lists the names of the object's own maps, leaving out the ones
// libbpf makes for global variables (.rodata, .bss, ...).
func (m *Module) Maps() []string {
	var names []string
	it := m.Iterator()
	for mp := it.NextMap(); mp != nil; mp = it.NextMap() {
		if !strings.Contains(mp.Name(), ".") {
			names = append(names, mp.Name())
		}
	}
	return names
}
