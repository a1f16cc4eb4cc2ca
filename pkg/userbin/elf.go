// Package userbin reads the user-space binaries that uprobes attach to:
// functions by name from ELF .dynsym and .symtab, and from Go's .gopclntab
// when a Go binary is stripped; the file offset a uprobe takes; the files
// a process maps, found through its own root so that a container's copy is
// the one read.
package userbin

import (
	"debug/elf"
	"debug/gosym"
	"errors"
	"fmt"
)

// Symbol is a function found in a binary.
type Symbol struct {
	Name string
	Addr uint64 // virtual address, as the file links it
	Size uint64
	// Offset is where its first instruction is in the file: what a uprobe
	// is attached at.
	Offset uint64
	// From says where it was found: .dynsym, .symtab or .gopclntab.
	From string
}

// ErrNotELF is returned for a file that is not an ELF binary.
var ErrNotELF = errors.New("not an ELF file")

// Functions finds the named functions in the ELF file at path, looking in
// .dynsym, then .symtab, then (a Go binary) .gopclntab. Names not found
// are absent from the map; a file that cannot be read is an error.
func Functions(path string, names ...string) (map[string]Symbol, error) {
	f, err := elf.Open(path)
	if err != nil {
		var fe *elf.FormatError
		if errors.As(err, &fe) {
			return nil, fmt.Errorf("%s: %w", path, ErrNotELF)
		}
		return nil, err
	}
	defer f.Close()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]Symbol{}
	add := func(from string, syms []elf.Symbol) {
		for _, s := range syms {
			if !want[s.Name] || elf.ST_TYPE(s.Info) != elf.STT_FUNC || s.Value == 0 {
				continue
			}
			if _, ok := out[s.Name]; ok {
				continue
			}
			if off, ok := fileOffset(f, s.Value); ok {
				out[s.Name] = Symbol{Name: s.Name, Addr: s.Value, Size: s.Size, Offset: off, From: from}
			}
		}
	}
	if syms, err := f.DynamicSymbols(); err == nil {
		add(".dynsym", syms)
	}
	if len(out) < len(want) {
		if syms, err := f.Symbols(); err == nil {
			add(".symtab", syms)
		}
	}
	if len(out) < len(want) && f.Section(".gopclntab") != nil {
		if err := goFunctions(f, want, out); err != nil {
			return nil, fmt.Errorf("%s: reading .gopclntab: %w", path, err)
		}
	}
	return out, nil
}

// goFunctions adds the wanted functions that Go's function table (kept
// in stripped binaries too) names.
func goFunctions(f *elf.File, want map[string]bool, out map[string]Symbol) error {
	data, err := f.Section(".gopclntab").Data()
	if err != nil {
		return err
	}
	var textStart uint64
	if text := f.Section(".text"); text != nil {
		textStart = text.Addr
	}
	tab, err := gosym.NewTable(nil, gosym.NewLineTable(data, textStart))
	if err != nil {
		return err
	}
	for _, fn := range tab.Funcs {
		if !want[fn.Name] {
			continue
		}
		if _, ok := out[fn.Name]; ok {
			continue
		}
		if off, ok := fileOffset(f, fn.Entry); ok {
			out[fn.Name] = Symbol{Name: fn.Name, Addr: fn.Entry, Size: fn.End - fn.Entry, Offset: off, From: ".gopclntab"}
		}
	}
	return nil
}

// fileOffset is where virtual address addr is in the file: inside an
// executable PT_LOAD segment.
func fileOffset(f *elf.File, addr uint64) (uint64, bool) {
	for _, p := range f.Progs {
		if p.Type != elf.PT_LOAD || p.Flags&elf.PF_X == 0 {
			continue
		}
		if addr >= p.Vaddr && addr < p.Vaddr+p.Filesz {
			return addr - p.Vaddr + p.Off, true
		}
	}
	return 0, false
}
