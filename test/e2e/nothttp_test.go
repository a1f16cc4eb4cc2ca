// Connections that are not HTTP: decided at their first bytes and muted.
package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// TestNotHTTP traces a D-Bus daemon, whose clients speak D-Bus over unix
// stream sockets, together with an HTTP server. Each D-Bus connection is
// found not to be HTTP at its first bytes and muted: nothing of it is
// logged, the summary counts it (conns_not_http), and the kernel side
// counts the transfers it then left out (bpf_not_http) instead of sending
// them: dbus-monitor's connection carries every call after it was muted.
// The HTTP server's exchanges are logged as ever.
func TestNotHTTP(t *testing.T) {
	harness.NeedBinary(t, "dbus-daemon")
	harness.NeedBinary(t, "dbus-send")
	harness.NeedBinary(t, "bpftool")
	bus := "unix:path=" + filepath.Join(t.TempDir(), "bus")
	daemon := harness.Start(t, exec.Command("dbus-daemon", "--session", "--nofork", "--nopidfile", "--address="+bus, "--print-address=1"))
	daemon.WaitLine(t, false, func(l string) bool { return strings.HasPrefix(l, "unix:") }, 10*time.Second)
	py := harness.StartPythonServer(t)
	tr := trace(t, daemon.PID(), py.PID())
	// A monitor that stays connected: every call below passes through its
	// connection too, after that connection was muted.
	monitor := harness.Start(t, exec.Command("dbus-monitor", "--address", bus))
	monitor.WaitLine(t, false, func(l string) bool { return strings.Contains(l, "NameLost") || strings.Contains(l, "NameAcquired") },
		10*time.Second)

	const calls = 20
	for i := range calls {
		cmd := exec.Command("dbus-send", "--bus="+bus, "--print-reply", "--dest=org.freedesktop.DBus",
			"/org/freedesktop/DBus", "org.freedesktop.DBus.ListNames")
		cmd.Env = append(os.Environ(), "DBUS_SESSION_BUS_ADDRESS="+bus)
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "org.freedesktop.DBus") {
			t.Fatalf("dbus-send %d: %v: %s", i, err, out)
		}
		// Spread over several of the tracer's polls: the monitor's
		// connection is muted once its first record has been read.
		time.Sleep(50 * time.Millisecond)
	}
	sent := traffic(t, py.Addr, appPaths, "nothttp")
	tr.WaitFor(t, waitForLogs, harness.AllLogged(sent))
	// No mute is left behind in conn_skips: the kernel moves a live
	// connection's into its conns entry, and httptrace clears those of the
	// connections that closed before their mute reached the kernel.
	left := -1
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if left = skipEntries(t, tr.PID()); left == 0 {
			break
		}
	}
	if left != 0 {
		t.Errorf("conn_skips holds %d entries after every D-Bus client closed, want 0", left)
	}
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)
	good := harness.Check(t, recs, sent)
	harness.CheckSummary(t, sum, recs)
	noneFrom(t, tr, daemon.PID())
	muted, left := summaryCount(sum.Line, "conns_not_http"), summaryCount(sum.Line, "bpf_not_http")
	if muted < calls || left == 0 {
		t.Errorf("summary: conns_not_http=%d (want at least %d D-Bus connections) bpf_not_http=%d (want transfers left out): %s",
			muted, calls, left, sum.Line)
	}
	harness.Result("nothttp", tr.Mode, good, sent)
}

// skipEntries counts the entries of the conn_skips map (the one tracer's).
func skipEntries(t *testing.T, tracerPID int) int {
	t.Helper()
	id := tracerMapID(t, tracerPID, "conn_skips")
	out, err := exec.Command("bpftool", "-j", "map", "dump", "id", strconv.Itoa(id)).Output()
	if err != nil {
		t.Fatalf("bpftool map dump id %d (conn_skips): %v", id, err)
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(out, &entries); err != nil {
		t.Fatalf("bpftool's dump %q: %v", out, err)
	}
	return len(entries)
}

// tracerMapID is the id of the map named name that process pid (the
// tracer) holds: another tracer on the machine has a map of that name too.
func tracerMapID(t *testing.T, pid int, name string) int {
	t.Helper()
	out, err := exec.Command("bpftool", "-j", "map", "show").Output()
	if err != nil {
		t.Fatalf("bpftool map show: %v", err)
	}
	var maps []struct {
		ID   int    `json:"id"`
		Name string `json:"name"`
	}
	if err := json.Unmarshal(out, &maps); err != nil {
		t.Fatalf("bpftool's list %q: %v", out, err)
	}
	held := map[int]bool{}
	dir := fmt.Sprintf("/proc/%d/fdinfo", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "map_id:"); ok {
				if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
					held[n] = true
				}
			}
		}
	}
	for _, m := range maps {
		if m.Name == name && held[m.ID] {
			return m.ID
		}
	}
	t.Fatalf("process %d holds no map named %s", pid, name)
	return 0
}
