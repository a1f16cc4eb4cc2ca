package bpfobj

import (
	"slices"
	"testing"

	"github.com/httptrace/httptrace/pkg/probes"
)

// TestObjectMatchesNames opens the built object (no load, no root) and
// checks it holds exactly the programs the probe table names and the maps
// and globals the constants name.
func TestObjectMatchesNames(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(map[bool]string{false: "current", true: "legacy"}[legacy], func(t *testing.T) { checkObject(t, legacy) })
	}
}

func checkObject(t *testing.T, legacy bool) {
	m, err := Open(legacy)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	same := func(what string, got, want []string) {
		t.Helper()
		slices.Sort(got)
		want = slices.Clone(want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("object %s %v\nnamed in Go   %v", what, got, want)
		}
	}
	same("programs", m.Programs(), probes.ProgramNames())
	same("maps", m.Maps(), MapNames)
	for _, g := range []struct {
		name  string
		value any
	}{{GlobalCaptureBytes, uint32(1)}, {GlobalWakeupBytes, uint64(1)}, {GlobalTraceUnix, true},
		{GlobalPortSelect, true}, {GlobalTraceAll, true}, {GlobalSelfPID, uint32(1)}} {
		if err := m.InitGlobalVariable(g.name, g.value); err != nil {
			t.Errorf("global %s: %v", g.name, err)
		}
	}
}
