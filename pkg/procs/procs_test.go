package procs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	cases := []struct {
		stat string
		want Proc
		ok   bool
	}{
		{"42 (nginx) S 1 42 42 0", Proc{42, 1, "nginx"}, true},
		{"43 (a (b) c) R 42 43", Proc{43, 42, "a (b) c"}, true},
		{"44 nginx S 1", Proc{}, false},
		{"45 (x) S", Proc{}, false},
		{"46 (x) S y", Proc{}, false},
	}
	for _, tc := range cases {
		pid := tc.want.PID
		if !tc.ok {
			pid = 1
		}
		got, err := parseStat(pid, tc.stat)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parseStat(%q) = %+v, %v", tc.stat, got, err)
		}
	}
}

func TestSelect(t *testing.T) {
	all := []Proc{
		{1, 0, "init"}, {10, 1, "server"}, {11, 10, "worker"}, {12, 11, "helper"},
		{20, 1, "nginx"}, {21, 20, "nginx"}, {30, 1, "other"}, {31, 1, "averyveryverylo"},
	}
	cases := []struct {
		pids  []int
		comms []string
		want  []int
	}{
		{[]int{10}, nil, []int{10, 11, 12}},
		{nil, []string{"nginx"}, []int{20, 21}},
		{[]int{11}, []string{"averyveryverylongname"}, []int{11, 12, 31}},
		{[]int{99}, nil, []int{99}},
		{nil, nil, []int{}},
	}
	for _, tc := range cases {
		if got := Select(all, tc.pids, tc.comms); !slices.Equal(got, tc.want) {
			t.Errorf("Select(%v, %v) = %v, want %v", tc.pids, tc.comms, got, tc.want)
		}
	}
}

func TestListReadsProc(t *testing.T) {
	dir := t.TempDir()
	for pid, stat := range map[string]string{"7": "7 (sh) S 1 7", "8": "8 (cat) R 7 8"} {
		if err := os.MkdirAll(filepath.Join(dir, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, pid, "stat"), []byte(stat), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "self"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := List(dir)
	if err != nil || len(got) != 2 || Select(got, []int{7}, nil)[1] != 8 {
		t.Errorf("List = %+v, %v", got, err)
	}
	if _, err := List(filepath.Join(dir, "none")); err == nil {
		t.Error("List of a missing directory succeeded")
	}
}

// TestAlive: this process is alive; a child that exited and was not reaped
// (a zombie) and a PID with no /proc entry are not.
func TestAlive(t *testing.T) {
	if !Alive("/proc", os.Getpid()) {
		t.Fatal("this process is not alive")
	}
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for Alive("/proc", cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d still alive after it exited", cmd.Process.Pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", cmd.Process.Pid)); err != nil {
		t.Fatalf("the zombie's /proc entry is gone before it was reaped: %v", err)
	}
	if Alive(t.TempDir(), 1) {
		t.Error("a PID with no /proc entry is alive")
	}
}

func TestStartTime(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "42")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A name with spaces and a parenthesis: the fields count from the last ')'.
	stat := "42 (a) b (c)) S 1 42 42 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 987654 0 0"
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := StartTime(root, 42); err != nil || got != 987654 {
		t.Errorf("StartTime: %d, %v; want 987654", got, err)
	}
	if _, err := StartTime(root, 43); err == nil {
		t.Errorf("a process that is not there: no error")
	}
	if pids, err := PIDs(root); err != nil || len(pids) != 1 || pids[0] != 42 {
		t.Errorf("PIDs: %v %v", pids, err)
	}
}
