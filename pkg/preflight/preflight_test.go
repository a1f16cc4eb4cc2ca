package preflight

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/pkg/kernel"
)

func TestCapabilities(t *testing.T) {
	defer func(p string) { ProcRoot = p }(ProcRoot)
	cases := []struct {
		capEff string
		ok     bool
	}{
		{"000001ffffffffff", true},  // root
		{"0000000000200000", true},  // CAP_SYS_ADMIN
		{"000000c000000000", true},  // CAP_BPF + CAP_PERFMON
		{"0000008000000000", false}, // CAP_BPF alone
		{"0000000000000000", false}, // nobody
	}
	for _, tc := range cases {
		ProcRoot = t.TempDir()
		os.MkdirAll(filepath.Join(ProcRoot, "self"), 0o755)
		status := "Name:\tx\nCapEff:\t" + tc.capEff + "\n"
		if err := os.WriteFile(filepath.Join(ProcRoot, "self", "status"), []byte(status), 0o644); err != nil {
			t.Fatal(err)
		}
		err := Capabilities()
		if (err == nil) != tc.ok {
			t.Errorf("CapEff %s: %v, want ok=%v", tc.capEff, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "run as root (or with CAP_BPF and CAP_PERFMON)") {
			t.Errorf("message %q does not say what to do", err)
		}
	}
}

func TestBTF(t *testing.T) {
	defer func(h kernel.Host) { kernel.DefaultHost = h }(kernel.DefaultHost)
	kernel.DefaultHost.BTF = filepath.Join(t.TempDir(), "vmlinux")
	if err := BTF(); err == nil || !strings.Contains(err.Error(), "CONFIG_DEBUG_INFO_BTF") {
		t.Errorf("missing BTF: %v", err)
	}
}

func TestMemlockOnlyBefore511(t *testing.T) {
	raised, err := Memlock("6.1.0-56-amd64")
	if raised || err != nil {
		t.Errorf("6.1: raised %v, %v", raised, err)
	}
}
