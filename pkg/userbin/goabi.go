// Go binaries: the toolchain that built one, the RET instructions of a
// function (Go functions are probed there, never with uretprobes: Go
// moves goroutine stacks, and a uretprobe's rewritten return address
// breaks that), and the struct offsets the probes read.

package userbin

import (
	"debug/buildinfo"
	"debug/dwarf"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/arch/x86/x86asm"
)

// GoVersion is the Go release that built the binary at path ("go1.19.8"),
// read from its build information (kept in stripped binaries), or "" for
// a file that is not a Go binary.
func GoVersion(path string) string {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return ""
	}
	return info.GoVersion
}

// GoMinor is the minor release of a Go version string ("go1.19.8": 19),
// or 0 when it cannot be read.
func GoMinor(version string) int {
	rest, ok := strings.CutPrefix(version, "go1.")
	if !ok {
		return 0
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		rest = rest[:end]
	}
	n, _ := strconv.Atoi(rest)
	return n
}

// code reads function sym's bytes from the x86-64 ELF file at path.
func code(path string, sym Symbol) ([]byte, error) {
	if sym.Size == 0 {
		return nil, fmt.Errorf("%s: size unknown", sym.Name)
	}
	ef, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	machine := ef.Machine
	ef.Close()
	if machine != elf.EM_X86_64 {
		return nil, fmt.Errorf("%s: Go functions are probed on x86-64 only, not %s", sym.Name, machine)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, sym.Size)
	if _, err := f.ReadAt(b, int64(sym.Offset)); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading %s: %w", sym.Name, err)
	}
	return b, nil
}

// RetOffsets finds the RET instructions of function sym (x86-64) in the
// file at path by disassembly, and returns their file offsets. An
// instruction that does not decode fails it: a uprobe placed inside an
// instruction would break every process that runs the code.
func RetOffsets(path string, sym Symbol) ([]uint64, error) {
	code, err := code(path, sym)
	if err != nil {
		return nil, err
	}
	var out []uint64
	for off := 0; off < len(code); {
		inst, err := x86asm.Decode(code[off:], 64)
		if err != nil {
			if allPadding(code[off:]) {
				break
			}
			return nil, fmt.Errorf("%s: no instruction decodes at +%#x: %w", sym.Name, off, err)
		}
		if inst.Op == x86asm.RET {
			out = append(out, sym.Offset+uint64(off))
		}
		off += inst.Len
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no RET instruction found", sym.Name)
	}
	return out, nil
}

// GoTLSOffsets are the struct offsets the Go TLS probes read to find a
// crypto/tls.Conn's socket: Conn.conn (a net.Conn interface: its data
// word is 8 bytes in), the *net.TCPConn's netFD (net.conn.fd), and
// netFD.pfd.Sysfd.
type GoTLSOffsets struct {
	ConnData   uint64 // crypto/tls.Conn.conn's data word
	ConnFD     uint64 // net.conn.fd
	NetFDSysfd uint64 // net.netFD.pfd.Sysfd
}

// KnownGoTLSOffsets are the offsets from Go 1.17 (the register ABI) to
// Go 1.26, unchanged across them: crypto/tls.Conn starts with conn
// net.Conn, net.conn holds only fd *netFD, and poll.FD's fdMutex (16
// bytes) comes before Sysfd.
var KnownGoTLSOffsets = GoTLSOffsets{ConnData: 8, ConnFD: 0, NetFDSysfd: 16}

// Go releases the offset table covers, and the first with the register ABI.
const (
	GoMinMinor   = 17
	GoKnownMinor = 26
)

// GoTLSOffsetsOf returns the offsets of the Go binary at path, built by
// version: the table's for a release it covers, else (a later Go) those
// its DWARF gives, when it has any. fromDWARF says which. A covered
// binary's DWARF is not read: decompressing it takes tens of MiB and a
// fifth of a second for a 15 MiB server, more for larger ones, for each
// binary probed.
func GoTLSOffsetsOf(path, version string) (off GoTLSOffsets, fromDWARF bool, err error) {
	minor := GoMinor(version)
	if minor >= GoMinMinor && minor <= GoKnownMinor {
		return KnownGoTLSOffsets, false, nil
	}
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		if d, err := f.DWARF(); err == nil {
			if off, err := dwarfOffsets(d); err == nil {
				return off, true, nil
			}
		}
	}
	return GoTLSOffsets{}, false, fmt.Errorf("%s without DWARF that gives crypto/tls's struct offsets: they are known for go1.%d to go1.%d", version, GoMinMinor, GoKnownMinor)
}

// dwarfOffsets reads the three offsets from DWARF type information.
func dwarfOffsets(d *dwarf.Data) (GoTLSOffsets, error) {
	want := map[string]string{"crypto/tls.Conn": "conn", "net.conn": "fd", "internal/poll.FD": "Sysfd", "net.netFD": "pfd"}
	got := map[string]uint64{}
	r := d.Reader()
	for len(got) < len(want) {
		e, err := r.Next()
		if err != nil || e == nil {
			break
		}
		if e.Tag != dwarf.TagStructType {
			continue
		}
		name, _ := e.Val(dwarf.AttrName).(string)
		field, ok := want[name]
		if !ok || !e.Children {
			if e.Children {
				r.SkipChildren()
			}
			continue
		}
		for {
			c, err := r.Next()
			if err != nil || c == nil || c.Tag == 0 {
				break
			}
			if n, _ := c.Val(dwarf.AttrName).(string); n == field {
				if off, ok := c.Val(dwarf.AttrDataMemberLoc).(int64); ok {
					got[name] = uint64(off)
				}
			}
		}
	}
	if len(got) < len(want) {
		return GoTLSOffsets{}, errors.New("crypto/tls and net types not in DWARF")
	}
	return GoTLSOffsets{
		ConnData:   got["crypto/tls.Conn"] + 8,
		ConnFD:     got["net.conn"],
		NetFDSysfd: got["net.netFD"] + got["internal/poll.FD"],
	}, nil
}

// allPadding says whether b is only the INT3 bytes the linker pads
// functions with.
func allPadding(b []byte) bool {
	for _, c := range b {
		if c != 0xcc {
			return false
		}
	}
	return true
}

// GoBodyOffset returns the file offset where function sym's body starts:
// the instruction after its prologue's stack check (a compare of the
// stack pointer, or of what the frame needs below it, with the
// goroutine's stack bound read through R14, and a JBE to the code that
// grows the stack). Go calls runtime.morestack there when the stack is
// short, or when the goroutine is asked to yield, and then runs the
// function from its first instruction again; past the check, each call
// runs once, with its arguments still in their registers. Code that
// does not start so (a function table read at a wrong base) is refused,
// so no uprobe is placed off an instruction.
func GoBodyOffset(path string, sym Symbol) (uint64, error) {
	code, err := code(path, sym)
	if err != nil {
		return 0, err
	}
	checked := false
	for i, off := 0, 0; i < 3 && off < len(code); i++ {
		inst, err := x86asm.Decode(code[off:], 64)
		if err != nil {
			break
		}
		off += inst.Len
		if checked {
			if inst.Op != x86asm.JBE {
				break
			}
			return sym.Offset + uint64(off), nil
		}
		checked = inst.Op == x86asm.CMP && boundOfG(inst)
	}
	return 0, fmt.Errorf("%s at %#x does not start as a Go function (no stack check through R14): not probed", sym.Name, sym.Offset)
}

// boundOfG says whether an instruction reads the goroutine's stack bound,
// g.stackguard0 (16 bytes into runtime.g, g in R14).
func boundOfG(inst x86asm.Inst) bool {
	for _, a := range inst.Args {
		if m, ok := a.(x86asm.Mem); ok && m.Base == x86asm.R14 && m.Disp == 16 && m.Index == 0 {
			return true
		}
	}
	return false
}
