package userbin

import (
	"bytes"
	"debug/elf"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/pkg/internal/gotlsprog"
)

// build runs a command that makes a binary in dir, skipping the test when
// the compiler is missing.
func build(t *testing.T, dir string, name string, args ...string) {
	t.Helper()
	buildEnv(t, dir, []string{"CGO_ENABLED=0"}, name, args...)
}

// buildEnv is build with more environment.
func buildEnv(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on"), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// checkAt checks that sym's file offset holds the bytes the section
// holding its address has there: the offset a uprobe takes is right.
func checkAt(t *testing.T, path string, sym Symbol) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := max(min(sym.Size, 16), 1)
	var want []byte
	for _, s := range f.Sections {
		if s.Type == elf.SHT_PROGBITS && sym.Addr >= s.Addr && sym.Addr+n <= s.Addr+s.Size {
			data, err := s.Data()
			if err != nil {
				t.Fatal(err)
			}
			want = data[sym.Addr-s.Addr : sym.Addr-s.Addr+n]
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want == nil || !bytes.Equal(raw[sym.Offset:sym.Offset+n], want) {
		t.Errorf("%s in %s: bytes at offset %#x are not those at address %#x", sym.Name, path, sym.Offset, sym.Addr)
	}
}

func TestFunctionsInSharedLibrary(t *testing.T) {
	dir := t.TempDir()
	src := "int exported_fn(int x) { return x * 3 + 1; }\nstatic int local_fn(int x) { return x - 1; }\nint (*keep)(int) = local_fn;\n"
	if err := os.WriteFile(filepath.Join(dir, "lib.c"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	build(t, dir, "gcc", "-O1", "-shared", "-fPIC", "-o", "libt.so", "lib.c")
	build(t, dir, "cp", "libt.so", "libt-stripped.so")
	build(t, dir, "strip", "libt-stripped.so")
	for _, tc := range []struct {
		file       string
		found      []string
		from       string
		notFound   []string
		symtabOnly string
	}{
		{file: "libt.so", found: []string{"exported_fn", "local_fn"}, from: ".dynsym"},
		{file: "libt-stripped.so", found: []string{"exported_fn"}, from: ".dynsym", notFound: []string{"local_fn"}},
	} {
		path := filepath.Join(dir, tc.file)
		got, err := Functions(path, "exported_fn", "local_fn", "no_such_fn")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range tc.found {
			s, ok := got[n]
			if !ok {
				t.Errorf("%s: %s not found", tc.file, n)
				continue
			}
			checkAt(t, path, s)
		}
		if s := got["exported_fn"]; s.From != tc.from {
			t.Errorf("%s: exported_fn from %s, want %s", tc.file, s.From, tc.from)
		}
		for _, n := range append(tc.notFound, "no_such_fn") {
			if _, ok := got[n]; ok {
				t.Errorf("%s: %s found, want absent", tc.file, n)
			}
		}
	}
	if got := mustFunctions(t, filepath.Join(dir, "libt.so"), "local_fn"); got["local_fn"].From != ".symtab" {
		t.Errorf("local_fn from %q, want .symtab", got["local_fn"].From)
	}
}

func mustFunctions(t *testing.T, path string, names ...string) map[string]Symbol {
	t.Helper()
	got, err := Functions(path, names...)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// A Go binary built with symbols and the same one stripped (-s -w): the
// function is found in both, from .symtab and from .gopclntab.
func TestFunctionsInGoBinary(t *testing.T) {
	dir := t.TempDir()
	src := "package main\n\nimport \"fmt\"\n\n//go:noinline\nfunc Handle(n int) int { return n*7 + 3 }\n\nfunc main() { fmt.Println(Handle(2)) }\n"
	for name, body := range map[string]string{"main.go": src, "go.mod": "module example.com/t\n\ngo 1.21\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build(t, dir, "go", "build", "-o", "full", ".")
	build(t, dir, "go", "build", "-ldflags=-s -w", "-o", "stripped", ".")
	for file, from := range map[string]string{"full": ".symtab", "stripped": ".gopclntab"} {
		path := filepath.Join(dir, file)
		got := mustFunctions(t, path, "main.Handle", "crypto/tls.(*Conn).Read")
		s, ok := got["main.Handle"]
		if !ok {
			t.Fatalf("%s: main.Handle not found", file)
		}
		if s.From != from || s.Size == 0 {
			t.Errorf("%s: main.Handle from %s (size %d), want %s", file, s.From, s.Size, from)
		}
		checkAt(t, path, s)
		if _, ok := got["crypto/tls.(*Conn).Read"]; ok {
			t.Errorf("%s: a function the binary does not link was found", file)
		}
	}
}

// The system's libssl, when installed: OpenSSL's functions are in .dynsym.
func TestFunctionsInLibssl(t *testing.T) {
	matches, _ := filepath.Glob("/usr/lib/*/libssl.so.3")
	if len(matches) == 0 {
		t.Skip("no libssl.so.3")
	}
	got := mustFunctions(t, matches[0], "SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex")
	for _, n := range []string{"SSL_read", "SSL_write", "SSL_read_ex", "SSL_write_ex"} {
		if s, ok := got[n]; !ok || s.From != ".dynsym" {
			t.Errorf("%s: %+v, want it from .dynsym", n, s)
		}
	}
}

func TestFunctionsNotELF(t *testing.T) {
	path := filepath.Join(t.TempDir(), "text")
	if err := os.WriteFile(path, []byte(strings.Repeat("not an elf file\n", 8)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Functions(path, "x"); !errors.Is(err, ErrNotELF) {
		t.Errorf("error %v, want ErrNotELF", err)
	}
}

// This process's own mappings: its executable is among them, and Identify
// names the same inode.
func TestMappingsOfSelf(t *testing.T) {
	maps, err := Mappings("/proc", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	id, err := Identify(Executable("/proc", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range maps {
		if m.Path == exe {
			if !m.Exec || m.Inode != id.Ino {
				t.Errorf("executable mapping %+v, want exec with inode %d", m, id.Ino)
			}
			return
		}
	}
	t.Errorf("%s not among the mappings %+v", exe, maps)
}

// TestGoTLSInBinaries builds a program that links crypto/tls with symbols
// and stripped (-s -w): its Go version is read from both, the RETs of
// (*Conn).Read and Write are found by disassembly (each a 0xc3 byte), as
// are their bodies (past the stack check), and the struct offsets come
// from the table for the release that built them, and from DWARF (where
// there is some) for a release past the table: the same.
func TestGoTLSInBinaries(t *testing.T) {
	// The stack check a body follows: CMPQ R12 (frames over 128 bytes) or
	// SP, 0x10(R14), and the first two bytes of a JBE rel32.
	cmpR12JBE := []byte{0x4d, 0x3b, 0x66, 0x10, 0x0f, 0x86}
	cmpSPJBE := []byte{0x49, 0x3b, 0x66, 0x10, 0x0f, 0x86}
	bins := map[string]string{
		"full":     gotlsprog.Build(t, "full", nil),
		"stripped": gotlsprog.Build(t, "stripped", nil, "-ldflags=-s -w"),
		// Linked by the C linker (as distributions build Go programs): C
		// code comes first in .text, and Go's function table counts from
		// its own start, not the section's.
		"external": gotlsprog.Build(t, "external", []string{"CGO_ENABLED=1"}, "-ldflags=-s -w -linkmode=external"),
	}
	for file, dwarf := range map[string]bool{"full": true, "stripped": false, "external": false} {
		path := bins[file]
		if v := GoVersion(path); v != runtime.Version() || GoMinor(v) < GoMinMinor {
			t.Errorf("%s: Go version %q, want %q", file, v, runtime.Version())
		}
		fns := mustFunctions(t, path, "crypto/tls.(*Conn).Read", "crypto/tls.(*Conn).Write")
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"crypto/tls.(*Conn).Read", "crypto/tls.(*Conn).Write"} {
			s, ok := fns[name]
			if !ok {
				t.Fatalf("%s: %s not found", file, name)
			}
			body, err := GoBodyOffset(path, s)
			if err != nil {
				t.Errorf("%s: %v: % x", file, err, raw[s.Offset:s.Offset+16])
			} else if pro := raw[s.Offset : body-4]; body < s.Offset+10 || !bytes.HasSuffix(pro, cmpR12JBE) && !bytes.HasSuffix(pro, cmpSPJBE) {
				t.Errorf("%s: %s: body at +%#x does not follow the stack check and its JBE: % x", file, name, body-s.Offset, raw[s.Offset:body])
			}
			// Read at a wrong base (off by the 0x100 a C-linked binary's
			// text start can be), the function is refused.
			if _, err := GoBodyOffset(path, Symbol{Name: s.Name, Offset: s.Offset + 0x100, Size: s.Size}); err == nil {
				t.Errorf("%s: %s read 0x100 bytes off passed the stack check's test", file, name)
			}
			rets, err := RetOffsets(path, s)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			for _, off := range rets {
				if off < s.Offset || off >= s.Offset+s.Size || raw[off] != 0xc3 {
					t.Errorf("%s: %s: RET at %#x is not a 0xc3 inside the function [%#x, %#x)", file, name, off, s.Offset, s.Offset+s.Size)
				}
			}
		}
		off, fromDWARF, err := GoTLSOffsetsOf(path, GoVersion(path))
		if err != nil || fromDWARF || off != KnownGoTLSOffsets {
			t.Errorf("%s: offsets %+v (from DWARF %v), %v; want the table's, %+v", file, off, fromDWARF, err, KnownGoTLSOffsets)
		}
		// Past the table, the binary's DWARF gives them; this toolchain's
		// must be the table's.
		off, fromDWARF, err = GoTLSOffsetsOf(path, "go1.99.0")
		if dwarf && (err != nil || !fromDWARF || off != KnownGoTLSOffsets) {
			t.Errorf("%s: as go1.99, offsets %+v (from DWARF %v), %v; want DWARF's, the table's %+v", file, off, fromDWARF, err, KnownGoTLSOffsets)
		}
		if !dwarf && err == nil {
			t.Errorf("%s: as go1.99 without DWARF, offsets %+v given, want an error", file, off)
		}
	}
	if _, _, err := GoTLSOffsetsOf(bins["stripped"], "go1.16.15"); err == nil {
		t.Error("go1.16 without DWARF: offsets given, want an error (no register ABI)")
	}
}

func TestGoMinor(t *testing.T) {
	for v, want := range map[string]int{"go1.19.8": 19, "go1.26.8": 26, "go1.22rc1": 22, "devel +abc": 0, "": 0} {
		if got := GoMinor(v); got != want {
			t.Errorf("GoMinor(%q) = %d, want %d", v, got, want)
		}
	}
}
