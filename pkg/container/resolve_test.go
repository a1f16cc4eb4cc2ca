package container

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fakeProc writes /proc/PID's cgroup, status and stat (started at start).
func fakeProc(t *testing.T, root string, pid int, start uint64, cgroup, status string) {
	t.Helper()
	dir := filepath.Join(root, fmt.Sprint(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	stat := fmt.Sprintf("%d (a) b) S 1 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 %d 0 0", pid, start)
	for name, body := range map[string]string{"cgroup": cgroup, "status": status, "stat": stat} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestResolver(t *testing.T) {
	root := t.TempDir()
	fakeProc(t, root, 100, 5, "0::/libpod_parent/libpod-"+id+"\n", "Name:\tsrv\nNSpid:\t100\t1\n")
	fakeProc(t, root, 200, 5, "0::/system.slice/nginx.service\n", "Name:\tnginx\nNSpid:\t200\n")
	fakeProc(t, root, 300, 5, "0::/docker/"+id+"\n", "Name:\tx\nNSpid:\t300\n") // a container in the host's PID namespace
	r := NewResolver(root)
	clock := 1000 * time.Second

	if got := r.Lookup(100, clock); got != (Process{Identity: Identity{id, "podman", ""}, PID: 1}) {
		t.Errorf("container process: %+v", got)
	}
	if got := r.Lookup(200, clock); got != (Process{}) {
		t.Errorf("host process: %+v", got)
	}
	if got := r.Lookup(300, clock); got != (Process{Identity: Identity{id, "docker", ""}}) {
		t.Errorf("container in the host's PID namespace: %+v", got)
	}
	if got := r.Lookup(999, clock); got != (Process{}) || len(r.cache) != 3 {
		t.Errorf("gone process: %+v, %d cached (want it not remembered)", got, len(r.cache))
	}

	// A process that exits keeps its label for its last exchanges.
	if err := os.RemoveAll(filepath.Join(root, "100")); err != nil {
		t.Fatal(err)
	}
	clock += time.Minute
	if got := r.Lookup(100, clock); got.ID != id {
		t.Errorf("exited container process, looked up again: %+v", got)
	}

	// The same process: the entry is kept whatever its files say now.
	fakeProc(t, root, 200, 5, "0::/docker/"+id+"\n", "NSpid:\t200\t7\n")
	if got := r.Lookup(200, clock); got != (Process{}) {
		t.Errorf("same process re-read: %+v", got)
	}
	// Another process with the PID (another start time): read again once
	// the entry is due for a check.
	fakeProc(t, root, 200, 9, "0::/docker/"+id+"\n", "NSpid:\t200\t7\n")
	if got := r.Lookup(200, clock); got != (Process{}) {
		t.Errorf("before the check is due: %+v", got)
	}
	clock += checkAfter
	if got := r.Lookup(200, clock); got.ID != id || got.PID != 7 {
		t.Errorf("a new process with the PID: %+v", got)
	}
	// Forget: read again at once.
	fakeProc(t, root, 300, 5, "0::/\n", "NSpid:\t300\n")
	r.Forget(300)
	if got := r.Lookup(300, clock); got != (Process{}) {
		t.Errorf("after Forget: %+v", got)
	}
}

func TestResolverBounded(t *testing.T) {
	root := t.TempDir()
	r := NewResolver(root)
	clock := 1000 * time.Second
	for pid := 1; pid <= maxProcesses+100; pid++ {
		fakeProc(t, root, pid, 5, "0::/\n", "")
		clock += time.Millisecond
		r.Lookup(uint32(pid), clock)
		if len(r.cache) > maxProcesses {
			t.Fatalf("%d entries after %d lookups, want at most %d", len(r.cache), pid, maxProcesses)
		}
	}
	if _, ok := r.cache[maxProcesses+100]; !ok {
		t.Errorf("the newest entry was evicted")
	}
	if _, ok := r.cache[1]; ok {
		t.Errorf("the oldest entry was kept")
	}
}

func TestResolverNames(t *testing.T) {
	root := t.TempDir()
	fakeProc(t, root, 100, 5, "0::/libpod_parent/libpod-"+id+"\n", "NSpid:\t100\t1\n")
	fakeProc(t, root, 200, 5, "0::/system.slice/nginx.service\n", "NSpid:\t200\n")
	r := NewResolver(root)
	clock := time.Second
	if got := r.Lookup(100, clock); got.Name != "" {
		t.Errorf("unnamed: %+v", got)
	}
	r.SetNames(id, Names{Name: "web", Pod: "web-0", Namespace: "shop"})
	if got := r.Lookup(100, clock); got.Name != "web" || got.Pod != "web-0" || got.Namespace != "shop" || got.ID != id {
		t.Errorf("named: %+v", got)
	}
	if got := r.Lookup(200, clock); got != (Process{}) {
		t.Errorf("host process: %+v", got)
	}
	pids, err := Processes(root, id)
	if err != nil || len(pids) != 1 || pids[0] != 100 {
		t.Errorf("Processes: %v %v, want [100]", pids, err)
	}
}

// BenchmarkLookup is the per-exchange cost of a label for a process seen
// before: of the host; in a named container; and one whose start time is
// due for a check at every lookup (the worst case: a stat read each).
func BenchmarkLookup(b *testing.B) {
	root := b.TempDir()
	stat := " (srv) S 1 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0"
	for pid, cg := range map[string]string{"100": "0::/system.slice/nginx.service\n", "200": "0::/libpod_parent/libpod-" + id + "\n"} {
		dir := filepath.Join(root, pid)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for name, body := range map[string]string{"cgroup": cg, "stat": pid + stat, "status": "NSpid:\t" + pid + "\t1\n"} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	for _, bc := range []struct {
		name string
		pid  uint32
		step time.Duration // the clock's advance per lookup
	}{{"host", 100, 0}, {"container", 200, 0}, {"check due", 200, checkAfter}} {
		b.Run(bc.name, func(b *testing.B) {
			r := NewResolver(root)
			r.SetNames(id, Names{Name: "web"})
			clock := time.Second
			r.Lookup(bc.pid, clock)
			b.ReportAllocs()
			for b.Loop() {
				clock += bc.step
				r.Lookup(bc.pid, clock)
			}
		})
	}
}
