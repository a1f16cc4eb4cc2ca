package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	bpf "github.com/aquasecurity/libbpfgo"

	"github.com/httptrace/httptrace/pkg/bpfobj"
)

// bpfIDs are the BPF objects a process holds, by kind ("prog", "link", "map").
type bpfIDs map[string]map[int]bool

// heldBy reads the prog_id, link_id and map_id of every fd of a process.
func heldBy(t *testing.T, pid int) bpfIDs {
	t.Helper()
	ids := bpfIDs{"prog": {}, "link": {}, "map": {}}
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		data, err := os.ReadFile(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue // closed meanwhile
		}
		kind := "map"
		if strings.Contains(string(data), "\nlink_id:") || strings.HasPrefix(string(data), "link_id:") {
			kind = "link" // a link's fdinfo also names its program
		} else if strings.Contains(string(data), "prog_id:") {
			kind = "prog"
		}
		for _, line := range strings.Split(string(data), "\n") {
			name, v, ok := strings.Cut(line, ":")
			if ok && name == kind+"_id" {
				id, _ := strconv.Atoi(strings.TrimSpace(v))
				ids[kind][id] = true
			}
		}
	}
	return ids
}

// loaded lists what bpftool sees loaded in the kernel: ID -> name.
func loaded(t *testing.T, kind string) map[int]string {
	t.Helper()
	out, err := exec.Command("bpftool", "-j", kind, "show").Output()
	if err != nil {
		t.Fatalf("bpftool %s show: %v", kind, err)
	}
	var rows []struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("bpftool %s show: %v", kind, err)
	}
	m := map[int]string{}
	for _, r := range rows {
		m[r.ID] = r.Name
	}
	return m
}

// objectPrograms are the program names in the built BPF objects (with and
// without atomic fetch operations).
func objectPrograms(t *testing.T) map[string]bool {
	t.Helper()
	bpf.SetLoggerCbs(bpf.Callbacks{Log: func(int, string) {}}) // libbpf's chatter is not the test's
	names := map[string]bool{}
	for _, atomicFetch := range []bool{true, false} {
		m, err := bpfobj.Open(atomicFetch)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range m.Programs() {
			names[n] = true
		}
		m.Close()
	}
	return names
}

// TestNothingLeftAfterSIGKILL: httptrace pins nothing, so when it is killed
// outright the kernel frees its programs, links and maps.
func TestNothingLeftAfterSIGKILL(t *testing.T) {
	target, _ := gated(t, "exit 0")
	tl := attached(t, "--pid", strconv.Itoa(target.Process.Pid))
	held := heldBy(t, tl.cmd.Process.Pid)
	if len(held["prog"]) == 0 || len(held["map"]) == 0 {
		t.Fatalf("httptrace holds no programs or maps: %v", held)
	}

	// Every program it holds is one of the object's, and bpftool sees it.
	want := objectPrograms(t)
	progs := loaded(t, "prog")
	for id := range held["prog"] {
		name, ok := progs[id]
		if !ok {
			t.Fatalf("bpftool does not list program %d", id)
		}
		if !knownProgram(name, want) {
			t.Errorf("program %d %q is not in the BPF object (%v)", id, name, want)
		}
	}

	tl.cmd.Process.Kill()
	if code := tl.waitExit(t, 10*time.Second); code != 137 {
		t.Errorf("exit status %d after SIGKILL", code)
	}
	var left []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		left = left[:0]
		for _, kind := range []string{"prog", "link", "map"} {
			now := loaded(t, kind)
			for id := range held[kind] {
				if _, ok := now[id]; ok {
					left = append(left, fmt.Sprintf("%s %d %s", kind, id, now[id]))
				}
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	sort.Strings(left)
	if len(left) > 0 {
		t.Errorf("still loaded 10s after SIGKILL:\n%s", strings.Join(left, "\n"))
	}
}

// knownProgram matches a kernel program name, which the kernel cuts to 15
// bytes when bpftool has no BTF name for it, against the object's.
func knownProgram(name string, want map[string]bool) bool {
	if want[name] {
		return true
	}
	for w := range want {
		if len(name) == 15 && strings.HasPrefix(w, name) {
			return true
		}
	}
	return false
}
