package bpftracediff

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/test/harness"
)

// TestProgramsCompile has the installed bpftrace compile the generated
// programs to BPF without attaching them (kprobes need not exist here): the
// checked-in kprobe program, kprobe and tracepoint programs with PIDs, the
// PID as an argument, and names.
// Each must give an ELF object with a program per probe block, and no
// address-space warnings (a user pointer read as a kernel one).
func TestProgramsCompile(t *testing.T) {
	bpftrace := needBpftrace(t)
	dir := t.TempDir()
	generate := func(args ...string) string {
		out, err := exec.Command(harness.Bin(t), append([]string{"bpftrace"}, args...)...).Output()
		if err != nil {
			t.Fatalf("httptrace bpftrace %v: %v", args, err)
		}
		p := filepath.Join(dir, strings.Join(args, "_")+".bt")
		if err := os.WriteFile(p, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name   string
		script string
		args   []string
	}{
		{"checked-in kprobe program", "../../bpf/httptrace.bt", []string{"1"}},
		{"kprobe, one PID", generate("--attach", "kprobe", "--first", "--pid", "1"), nil},
		{"tracepoint, two PIDs", generate("--attach", "tracepoint", "--pid", "1", "--pid", "2"), nil},
		{"tracepoint, PID as argument", generate("--attach", "tracepoint"), []string{"1"}},
		{"tracepoint, a name", generate("--attach", "tracepoint", "--comm", "nginx"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := filepath.Join(t.TempDir(), "p.o")
			cmd := exec.Command(bpftrace, append([]string{"--emit-elf", obj, tc.script}, tc.args...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("bpftrace --emit-elf: %v\n%s", err, stderr.String())
			}
			if strings.Contains(stderr.String(), "Addrspace") {
				t.Errorf("address space warnings:\n%s", stderr.String())
			}
			f, err := elf.Open(obj)
			if err != nil {
				t.Fatalf("bpftrace wrote no ELF object: %v\n%s", err, stderr.String())
			}
			defer f.Close()
			progs := 0
			for _, s := range f.Sections {
				if s.Type == elf.SHT_PROGBITS && s.Flags&elf.SHF_EXECINSTR != 0 {
					progs++
				}
			}
			// An entry and a return per data syscall (9), fork, exit, BEGIN, END.
			if progs < 22 {
				t.Errorf("the object has %d program sections, want at least 22\n%s", progs, stderr.String())
			}
		})
	}
}
