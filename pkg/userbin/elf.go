// Package userbin reads the user-space binaries that uprobes attach to:
// functions by name from ELF .dynsym and .symtab, and from Go's .gopclntab
// when a Go binary is stripped; the file offset a uprobe takes; the files
// a process maps, found through its own root so that a container's copy is
// the one read.
package userbin

import (
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
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
	textStart := pclntabTextStart(data)
	if textStart == 0 {
		// A position-independent binary: the loader writes the field, from
		// a relocation whose addend is the value.
		textStart = relocatedWord(f, f.Section(".gopclntab").Addr+24)
	}
	if textStart == 0 {
		// Linked by the C linker: the runtime's module data says.
		textStart = moduleText(f, f.Section(".gopclntab").Addr)
	}
	if text := f.Section(".text"); text != nil && textStart == 0 {
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

// pclntabTextStart is the address Go's function table counts from, as its
// header (Go 1.18 and later, 64-bit) records it: where Go's code starts,
// which is after the C code of an externally linked binary, not at the
// .text section's start. 0 when the header does not say.
func pclntabTextStart(data []byte) uint64 {
	const go118, go120 = 0xfffffff0, 0xfffffff1
	if len(data) < 32 || data[7] != 8 {
		return 0
	}
	if magic := binary.LittleEndian.Uint32(data); magic != go118 && magic != go120 {
		return 0
	}
	// magic, two pad bytes, instruction size quantum, pointer size, then
	// the function and file counts, then the text start.
	return binary.LittleEndian.Uint64(data[24:])
}

// relocatedWord is the value the loader writes at addr in a
// position-independent binary: the addend of its R_X86_64_RELATIVE
// relocation (0 when there is none).
func relocatedWord(f *elf.File, addr uint64) uint64 {
	sec := f.Section(".rela.dyn")
	if sec == nil || f.Machine != elf.EM_X86_64 {
		return 0
	}
	data, err := sec.Data()
	if err != nil {
		return 0
	}
	for i := 0; i+24 <= len(data); i += 24 {
		off := binary.LittleEndian.Uint64(data[i:])
		info := binary.LittleEndian.Uint64(data[i+8:])
		if off == addr && elf.R_X86_64(elf.R_TYPE64(info)) == elf.R_X86_64_RELATIVE {
			return binary.LittleEndian.Uint64(data[i+16:])
		}
	}
	return 0
}

// moduleText is where Go's code starts as the runtime's module data
// (runtime.firstmoduledata) records it: found by its first word, which
// points at the function table's header, in the data sections. Its text
// field is 176 bytes in (since Go 1.16: the header pointer, six slices,
// findfunctab, minpc and maxpc come first). 0 when not found.
func moduleText(f *elf.File, pclntab uint64) uint64 {
	const textField = 176
	for _, name := range []string{".go.module", ".noptrdata", ".data", ".data.rel.ro"} {
		sec := f.Section(name)
		if sec == nil || sec.Type == elf.SHT_NOBITS {
			continue
		}
		data, err := sec.Data()
		if err != nil {
			continue
		}
		for i := 0; i+textField+8 <= len(data); i += 8 {
			if binary.LittleEndian.Uint64(data[i:]) != pclntab {
				continue
			}
			minpc := binary.LittleEndian.Uint64(data[i+160:])
			text := binary.LittleEndian.Uint64(data[i+textField:])
			if text != 0 && text <= minpc {
				return text
			}
		}
	}
	return 0
}
