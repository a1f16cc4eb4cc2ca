package bpftracediff

import (
	"bytes"
	"debug/elf"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/httptrace/httptrace/test/harness"
)

// TestKprobeScriptCompiles has bpftrace compile the checked-in kprobe
// program to BPF (without attaching, which this kernel cannot): the script
// is valid bpftrace for the installed version, and its output is an ELF
// object with programs in it.
func TestKprobeScriptCompiles(t *testing.T) {
	harness.RequireRoot(t)
	bpftrace, err := exec.LookPath("bpftrace")
	if err != nil {
		t.Fatal("bpftrace is required for this test (make deps installs it)")
	}
	obj := filepath.Join(t.TempDir(), "httptrace.bt.o")
	cmd := exec.Command(bpftrace, "--emit-elf", obj, "../../bpf/httptrace.bt", "1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("bpftrace --emit-elf: %v\n%s", err, stderr.String())
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
	// accept return, read entry, read return, close entry, BEGIN, END.
	if progs < 6 {
		t.Errorf("the object has %d program sections, want at least 6\n%s", progs, stderr.String())
	}
}
