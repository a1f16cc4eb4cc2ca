package container

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func fakeProc(t *testing.T, root string, pid int, cgroup, status string) {
	t.Helper()
	dir := filepath.Join(root, fmt.Sprint(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "cgroup"), []byte(cgroup), 0o644)
	os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644)
}

func TestResolver(t *testing.T) {
	root := t.TempDir()
	fakeProc(t, root, 100, "0::/libpod_parent/libpod-"+id+"\n", "Name:\tsrv\nNSpid:\t100\t1\n")
	fakeProc(t, root, 200, "0::/system.slice/nginx.service\n", "Name:\tnginx\nNSpid:\t200\n")
	fakeProc(t, root, 300, "0::/docker/"+id+"\n", "Name:\tx\nNSpid:\t300\n") // a container in the host's PID namespace
	r := NewResolver(root)
	clock := time.Unix(1000, 0)
	r.now = func() time.Time { return clock }

	if got := r.Lookup(100); got != (Process{Identity{id, "podman", ""}, 1}) {
		t.Errorf("container process: %+v", got)
	}
	if got := r.Lookup(200); got != (Process{}) {
		t.Errorf("host process: %+v", got)
	}
	if got := r.Lookup(300); got != (Process{Identity{id, "docker", ""}, 0}) {
		t.Errorf("container in the host's PID namespace: %+v", got)
	}
	if got := r.Lookup(999); got != (Process{}) {
		t.Errorf("gone process: %+v", got)
	}

	// Cached: a change on disk is not read until the entry is forgotten or old.
	fakeProc(t, root, 200, "0::/docker/"+id+"\n", "NSpid:\t200\t7\n")
	if got := r.Lookup(200); got != (Process{}) {
		t.Errorf("cached host process re-read: %+v", got)
	}
	r.Forget(200)
	if got := r.Lookup(200); got.ID != id || got.PID != 7 {
		t.Errorf("after Forget: %+v", got)
	}
	fakeProc(t, root, 100, "0::/\n", "NSpid:\t100\n")
	clock = clock.Add(maxAge)
	if got := r.Lookup(100); got != (Process{}) {
		t.Errorf("after maxAge: %+v", got)
	}
}

func TestResolverBounded(t *testing.T) {
	r := NewResolver(t.TempDir())
	for pid := uint32(1); pid <= 3*maxProcesses; pid++ {
		r.Lookup(pid)
		if len(r.cache) > maxProcesses {
			t.Fatalf("%d entries after %d lookups, want at most %d", len(r.cache), pid, maxProcesses)
		}
	}
}
