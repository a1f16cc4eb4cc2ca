// A file's probe points: which TLS functions it has (OpenSSL's, or Go's
// crypto/tls at its entries and RET instructions), and attaching them
// whole or not at all.

package libprobe

import (
	"errors"
	"fmt"
	"os"

	"github.com/httptrace/httptrace/pkg/probes"
	"github.com/httptrace/httptrace/pkg/userbin"
)

// errNoFunctions: the file lacks a required function.
var errNoFunctions = errors.New("required functions not found")

// points finds the probes of the TLS functions the file has: OpenSSL's,
// or (an executable built by Go) crypto/tls's.
func (p *Prober) points(path string, lib bool) ([]probePoint, error) {
	if !lib {
		if version := userbin.GoVersion(path); version != "" {
			return goPoints(path, version)
		}
	}
	return libraryPoints(path, probes.LibOpenSSL)
}

// probePoint is one uprobe to attach: a program at a file offset.
type probePoint struct {
	prog   string
	offset uint64
	ret    bool // a uretprobe
	entry  bool // at a function's entry (else at its return)
}

// attachAll attaches every point for process pid, the returns first: an
// entry is never live without the return that consumes what it saves (a
// call in flight that is missed at its return would leave its thread
// marked inside a TLS call). If one fails, those already attached are
// detached again: a file is probed whole or not at all. The file is held
// open meanwhile and named through the open descriptor, so that a process
// that exits (and takes its /proc/PID/root with it) does not fail the
// attach.
func (p *Prober) attachAll(path string, points []probePoint, pid int) ([]func() error, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fd.Close()
	path = fmt.Sprintf("/proc/self/fd/%d", fd.Fd())
	var detach []func() error
	for _, entries := range []bool{false, true} {
		for _, pt := range points {
			if pt.entry != entries {
				continue
			}
			d, err := p.att.AttachUprobe(pt.prog, path, pt.offset, pt.ret, pid)
			if err != nil {
				p.detach(pid, detach)
				return nil, err
			}
			detach = append(detach, d)
		}
	}
	return detach, nil
}

// libraryPoints are the probes of the functions of lib the file has, with
// uretprobes.
func libraryPoints(path string, lib probes.Library) ([]probePoint, error) {
	ups, syms, err := functionsOf(path, lib)
	if err != nil {
		return nil, err
	}
	var points []probePoint
	for _, u := range ups {
		s, ok := syms[u.Symbol]
		if !ok {
			if u.Required {
				return nil, fmt.Errorf("%s: %w (no symbols: stripped, or not OpenSSL)", u.Symbol, errNoFunctions)
			}
			continue
		}
		points = append(points, probePoint{u.Entry, s.Offset, false, true}, probePoint{u.Return, s.Offset, true, false})
	}
	return points, nil
}

// goPoints are the probes of crypto/tls's Read and Write in a Go
// executable built by Go version: a uprobe where each body starts (past
// the stack check) and one at each RET instruction. An executable
// without crypto/tls is not a TLS one (errNoFunctions).
func goPoints(path, version string) ([]probePoint, error) {
	ups, syms, err := functionsOf(path, probes.LibGoTLS)
	if err != nil {
		return nil, err
	}
	if len(syms) == 0 {
		return nil, fmt.Errorf("crypto/tls: %w", errNoFunctions)
	}
	if minor := userbin.GoMinor(version); minor < userbin.GoMinMinor {
		return nil, fmt.Errorf("built by %s: crypto/tls is probed from go1.%d (the register ABI)", version, userbin.GoMinMinor)
	}
	off, _, err := userbin.GoTLSOffsetsOf(path, version)
	if err != nil {
		return nil, err
	}
	if off != userbin.KnownGoTLSOffsets {
		return nil, fmt.Errorf("built by %s: crypto/tls.Conn's socket is at offsets %+v, the probes read %+v", version, off, userbin.KnownGoTLSOffsets)
	}
	var points []probePoint
	for _, u := range ups {
		s, ok := syms[u.Symbol]
		if !ok {
			return nil, fmt.Errorf("%s: %w", u.Symbol, errNoFunctions)
		}
		// A uprobe must sit on an instruction: the function is checked to
		// start as Go code does and is disassembled whole. The entry probe
		// sits past the stack check, where each call passes once (a call
		// that grows its stack runs its first instructions again).
		body, err := userbin.GoBodyOffset(path, s)
		if err != nil {
			return nil, err
		}
		rets, err := userbin.RetOffsets(path, s)
		if err != nil {
			return nil, err
		}
		points = append(points, probePoint{u.Entry, body, false, true})
		for _, r := range rets {
			points = append(points, probePoint{u.Return, r, false, false})
		}
	}
	return points, nil
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
