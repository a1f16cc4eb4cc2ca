package tracer

import (
	"bufio"
	"bytes"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
	"unsafe"
)

// btfStruct is a struct as an object's BTF describes it: its size and the
// byte offset of each member.
type btfStruct struct {
	size    uintptr
	members map[string]uintptr
}

var (
	btfStructLine = regexp.MustCompile(`^\[\d+\] STRUCT '([A-Za-z_0-9]+)' size=(\d+) vlen=\d+$`)
	btfMemberLine = regexp.MustCompile(`^\s+'([A-Za-z_0-9]+)' type_id=\d+ bits_offset=(\d+)$`)
)

// btfStructs reads the structs of a BPF object's BTF (bpftool btf dump).
func btfStructs(t *testing.T, obj string) map[string]btfStruct {
	t.Helper()
	out, err := exec.Command("bpftool", "btf", "dump", "file", obj).Output()
	if err != nil {
		t.Fatalf("bpftool btf dump file %s (bpftool builds the objects; make deps installs it): %v", obj, err)
	}
	structs := map[string]btfStruct{}
	var cur *btfStruct
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := btfStructLine.FindStringSubmatch(sc.Text()); m != nil {
			size, _ := strconv.Atoi(m[2])
			structs[m[1]] = btfStruct{size: uintptr(size), members: map[string]uintptr{}}
			s := structs[m[1]]
			cur = &s
			continue
		}
		if m := btfMemberLine.FindStringSubmatch(sc.Text()); m != nil && cur != nil {
			bits, _ := strconv.Atoi(m[2])
			cur.members[m[1]] = uintptr(bits / 8)
			continue
		}
		cur = nil
	}
	return structs
}

// TestMapLayouts checks what user space reads and writes of the maps'
// structs (bpf/maps.h) against both objects' BTF: the conns entry's
// generation and muted flag, and conn_skips' key and value.
func TestMapLayouts(t *testing.T) {
	type field struct {
		name string
		off  uintptr
	}
	want := map[string]struct {
		size   uintptr
		fields []field
	}{
		"conn":     {connSize, []field{{"gen", connOffGen}, {"muted", connOffMuted}}},
		"skip_key": {unsafe.Sizeof(skipKey{}), []field{{"conn", unsafe.Offsetof(skipKey{}.Conn)}, {"dir", unsafe.Offsetof(skipKey{}.Dir)}}},
		"skip_to":  {unsafe.Sizeof(skipTo{}), []field{{"pos", unsafe.Offsetof(skipTo{}.Pos)}, {"gen", unsafe.Offsetof(skipTo{}.Gen)}}},
	}
	for _, obj := range []string{"../bpfobj/httptrace.bpf.o", "../bpfobj/httptrace_legacy.bpf.o"} {
		structs := btfStructs(t, obj)
		for name, w := range want {
			got, ok := structs[name]
			if !ok {
				t.Errorf("%s: no struct %s in its BTF", obj, name)
				continue
			}
			if got.size != w.size {
				t.Errorf("%s: sizeof(struct %s) = %d, Go reads %d", obj, name, got.size, w.size)
			}
			for _, f := range w.fields {
				if off, ok := got.members[f.name]; !ok || off != f.off {
					t.Errorf("%s: struct %s.%s at %d (present %v), Go reads it at %d", obj, name, f.name, off, ok, f.off)
				}
			}
		}
	}
}
