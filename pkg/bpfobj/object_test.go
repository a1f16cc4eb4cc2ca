package bpfobj

import (
	"sort"
	"testing"

	"github.com/httptrace/httptrace/pkg/probes"
)

// TestObjectMatchesProbeTable opens the built object (no load, no root) and
// checks it holds exactly the programs the probe table names.
func TestObjectMatchesProbeTable(t *testing.T) {
	m, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got := m.Programs()
	want := probes.ProgramNames()
	sort.Strings(got)
	sort.Strings(want)
	if len(got) != len(want) {
		t.Fatalf("object programs %v\nprobe table     %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("object programs %v\nprobe table     %v", got, want)
			break
		}
	}
	for _, name := range []string{"tracked_pids", "active_sockets", "read_args", "events", "stats", "event_scratch"} {
		if _, err := m.GetMap(name); err != nil {
			t.Errorf("map %s: %v", name, err)
		}
	}
}
