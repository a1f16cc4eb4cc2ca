// Per-program BPF run statistics: the kernel.bpf_stats_enabled switch and bpftool's JSON.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
)

const bpfStatsSysctl = "/proc/sys/kernel/bpf_stats_enabled"

// progStat is one BPF program's run count and total run time since load.
type progStat struct {
	ID        int    `json:"id"`
	Name      string `json:"name"`
	RunTimeNs uint64 `json:"run_time_ns"`
	RunCnt    uint64 `json:"run_cnt"`
}

// avgNs is the average run time, 0 when the program never ran.
func (p progStat) avgNs() float64 {
	if p.RunCnt == 0 {
		return 0
	}
	return float64(p.RunTimeNs) / float64(p.RunCnt)
}

// enableBPFStats turns kernel.bpf_stats_enabled on and returns a function
// that puts the previous value back.
func enableBPFStats() (restore func() error, err error) {
	old, err := os.ReadFile(bpfStatsSysctl)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", bpfStatsSysctl, err)
	}
	if err := os.WriteFile(bpfStatsSysctl, []byte("1\n"), 0o644); err != nil {
		return nil, fmt.Errorf("enabling bpf stats: %w", err)
	}
	return func() error {
		if err := os.WriteFile(bpfStatsSysctl, old, 0o644); err != nil {
			return fmt.Errorf("restoring %s: %w", bpfStatsSysctl, err)
		}
		return nil
	}, nil
}

// progStats returns the statistics of the BPF programs pid holds, by name.
func progStats(pid int) ([]progStat, error) {
	ids, err := progIDs(pid)
	if err != nil {
		return nil, err
	}
	out, err := exec.Command("bpftool", "prog", "show", "-j").Output()
	if err != nil {
		return nil, fmt.Errorf("bpftool prog show: %w", err)
	}
	all, err := parseBpftoolProgs(out)
	if err != nil {
		return nil, err
	}
	return selectProgs(all, ids), nil
}

// parseBpftoolProgs decodes `bpftool prog show -j`.
func parseBpftoolProgs(b []byte) ([]progStat, error) {
	var all []progStat
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, fmt.Errorf("decoding bpftool json: %w", err)
	}
	return all, nil
}

// selectProgs keeps the programs whose IDs are in ids, sorted by name.
func selectProgs(all []progStat, ids []int) []progStat {
	want := map[int]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []progStat
	for _, p := range all {
		if want[p.ID] {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].ID < out[j].ID
	})
	return out
}
