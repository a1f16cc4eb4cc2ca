package tracer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/pkg/kernel"
)

func TestEventName(t *testing.T) {
	group := groupName("4026531836", 12345)
	for _, c := range []struct {
		kind byte
		sym  string
		n    int
		want string
	}{
		{'r', "ksys_read", 1, "r_ksys_read_1_4026531836_12345"},
		{'p', "ksys_read", 0, "p_ksys_read_0_4026531836_12345"},
		{'p', "ksys_read", 7, "p_ksys_read_7_4026531836_12345"}, // the same function again
		{'r', "__x64_sys_recvfrom", 12, "r___x64_sys_recvfrom_12_4026531836_12345"},
		{'p', "do_sys_open.isra.0", 3, "p_do_sys_open_isra_0_3_4026531836_12345"},
		// Cut to 63 characters, keeping the attachment's and the group's parts.
		{'r', strings.Repeat("a", 100), 2, "r_" + strings.Repeat("a", 42) + "_2_4026531836_12345"},
	} {
		got := eventName(c.kind, c.sym, c.n, group)
		if got != c.want || len(got) > maxEventName {
			t.Errorf("eventName(%c, %q, %d) = %q, want %q", c.kind, c.sym, c.n, got, c.want)
		}
	}
}

func TestParseKprobeProfile(t *testing.T) {
	profile := "  r_ksys_read_77_1                                       1523               2\n" +
		"  p_ksys_read_77_1                                       1525               0\n" +
		"\n" +
		"  myprobe                                                   3               1\n"
	got, err := parseKprobeProfile(strings.NewReader(profile))
	want := map[string]uint64{"r_ksys_read_77_1": 2, "p_ksys_read_77_1": 0, "myprobe": 1}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("parseKprobeProfile = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"  r_x 1\n", "  r_x 1 two\n", "  r_x 1 2 3\n"} {
		if got, err := parseKprobeProfile(strings.NewReader(bad)); err == nil {
			t.Errorf("parseKprobeProfile(%q) = %v, want an error", bad, got)
		}
	}
}

func TestPIDNamespaceInode(t *testing.T) {
	for link, want := range map[string]string{
		"pid:[4026531836]": "4026531836",
		"pid:[]":           "",
		"net:[4026531840]": "",
		"pid:[12x]":        "",
		"pid:[1":           "",
	} {
		got, ok := pidNamespaceInode(link)
		if got != want || ok != (want != "") {
			t.Errorf("pidNamespaceInode(%q) = %q, %v; want %q", link, got, ok, want)
		}
	}
	link, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		t.Skip("no /proc/self/ns/pid:", err)
	}
	if ns := selfPIDNamespace(); link != "pid:["+ns+"]" {
		t.Errorf("own PID namespace %q, /proc/self/ns/pid says %q", ns, link)
	}
}

// TestOwnGroupRoundTrip: the clean-up reads this process's group name
// back as its own namespace: a dead PID's group is removed, its own kept.
func TestOwnGroupRoundTrip(t *testing.T) {
	dir := t.TempDir()
	dead := groupName(selfPIDNamespace(), 999999)
	events := "r4096:" + kprobeGroup() + "/r_x x\nr4096:" + dead + "/r_x x\n"
	path := filepath.Join(dir, "kprobe_events")
	if err := os.WriteFile(path, []byte(events), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := removeStaleKprobeEvents(kernel.Host{Tracefs: dir}, filepath.Join(dir, "proc"), selfPIDNamespace())
	got, _ := os.ReadFile(path)
	if err != nil || n != 1 || string(got) != events+"-:"+dead+"/r_x\n" {
		t.Errorf("removed %d, %v; kprobe_events now\n%s", n, err, got)
	}
}

// TestRemoveStaleKprobeEvents: the events of httptrace processes of this
// PID namespace that are gone are removed; this process's, a live one's,
// another namespace's and other tools' stay.
func TestRemoveStaleKprobeEvents(t *testing.T) {
	dir := t.TempDir()
	procRoot := filepath.Join(dir, "proc")
	if err := os.MkdirAll(filepath.Join(procRoot, "4242"), 0o755); err != nil {
		t.Fatal(err)
	}
	events := strings.Join([]string{
		"r4096:httptrace_77_999999/r_ksys_read ksys_read", // gone: removed
		"r4096:httptrace_77_4242/r_ksys_read ksys_read",   // alive
		"r4096:" + groupName("77", os.Getpid()) + "/r_ksys_read ksys_read",
		"r4096:httptrace_88_999999/r_ksys_read ksys_read", // another namespace's
		"r4096:httptrace_999999/r_ksys_read ksys_read",    // no namespace: not ours to judge
		"r:kprobes/myprobe do_sys_open",                   // another tool's
		"p:httptrace_77_999999/p_x ksys_write",
	}, "\n") + "\n"
	path := filepath.Join(dir, "kprobe_events")
	if err := os.WriteFile(path, []byte(events), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := removeStaleKprobeEvents(kernel.Host{Tracefs: dir}, procRoot, "77")
	if err != nil || n != 2 {
		t.Fatalf("removed %d, %v; want 2", n, err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// tracefs would delete them; a plain file shows what was written.
	if want := events + "-:httptrace_77_999999/r_ksys_read\n-:httptrace_77_999999/p_x\n"; string(got) != want {
		t.Errorf("kprobe_events now\n%s\nwant\n%s", got, want)
	}
}
