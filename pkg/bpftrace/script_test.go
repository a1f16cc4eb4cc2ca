package bpftrace

import (
	"os"
	"testing"

	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/probes"
)

// TestCheckedInScript fails when bpf/httptrace.bt is not what the default
// configuration generates in kprobe mode (make bpftrace rewrites it).
func TestCheckedInScript(t *testing.T) {
	cfg, err := config.Load("../../configs/httptrace.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want, err := Generate(cfg, probes.ModeKprobe)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../bpf/httptrace.bt")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("bpf/httptrace.bt is out of date: run make bpftrace\n--- want\n%s", want)
	}
}
