package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// gated starts a shell script that waits for a line on stdin before it
// runs, so it does nothing until httptrace is attached. The test reaps it.
func gated(t *testing.T, script string) (*exec.Cmd, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command("sh", "-c", "read go; "+script)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	return cmd, in
}

// summaryOf returns the fields of the summary line, failing when there is none.
func summaryOf(t *testing.T, tl *tool) map[string]any {
	t.Helper()
	for _, l := range tl.Stderr() {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && strings.HasPrefix(fmt.Sprint(m["msg"]), "summary:") {
			for _, f := range []string{"exchanges", "incomplete", "unmatched", "gaps", "bytes_not_seen", "events_lost", "decode_errors"} {
				if _, ok := m[f]; !ok {
					t.Errorf("summary has no %s: %s", f, l)
				}
			}
			return m
		}
	}
	t.Fatalf("no summary line:\n%s", strings.Join(tl.Stderr(), "\n"))
	return nil
}

// exitLogged reports whether httptrace logged the exit of pid.
func exitLogged(tl *tool, pid int) bool {
	for _, l := range tl.Stderr() {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == "traced process exited" && m["pid"] == float64(pid) {
			return true
		}
	}
	return false
}

// readTime reads the time a script wrote with `date +%s.%N`.
func readTime(t *testing.T, path string) time.Time {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("httptrace exited before the traced child did (%v)", err)
	}
	secs, err := strconv.ParseFloat(strings.TrimSpace(string(data)), 64)
	if err != nil {
		t.Fatal(err)
	}
	return time.Unix(0, int64(secs*1e9))
}

// TestExitsWhenTracedProcessesExit: with --pid only, httptrace logs each
// traced process's exit, waits for descendants forked before or after it
// attached, then logs its summary and exits 0.
func TestExitsWhenTracedProcessesExit(t *testing.T) {
	// Each script waits for "go" on stdin; a descendant waits for the file
	// $1.go, lives 2s more and writes its exit time to $1.
	const child = `(while [ ! -e "$1.go" ]; do sleep 0.05; done; sleep 2; date +%s.%N > "$1")`
	cases := []struct {
		name   string
		script string
		child  bool
	}{
		{"alone", "read go; exit 0", false},
		{"child forked after attach", "read go; " + child + " & exit 0", true},
		{"child forked before attach", child + " & read go; exit 0", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stamp := filepath.Join(t.TempDir(), "child-exit")
			cmd := exec.Command("sh", "-c", tc.script, "sh", stamp)
			in, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go cmd.Wait() // reap it as soon as it exits
			t.Cleanup(func() { cmd.Process.Kill() })
			tl := attached(t, "--pid", strconv.Itoa(cmd.Process.Pid))
			if err := os.WriteFile(stamp+".go", nil, 0o644); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(in, "go")
			in.Close()
			if code := tl.waitExit(t, 30*time.Second); code != 0 {
				t.Fatalf("exit status %d:\n%s", code, strings.Join(tl.Stderr(), "\n"))
			}
			if !exitLogged(tl, cmd.Process.Pid) {
				t.Errorf("exit of %d not logged:\n%s", cmd.Process.Pid, strings.Join(tl.Stderr(), "\n"))
			}
			if r := fmt.Sprint(summaryOf(t, tl)["reason"]); r != "every traced process has exited" {
				t.Errorf("summary reason %q", r)
			}
			if tc.child {
				if childExit := readTime(t, stamp); tl.exitAt.Before(childExit) {
					t.Errorf("httptrace exited at %s, before the child at %s",
						tl.exitAt.Format(time.StampMilli), childExit.Format(time.StampMilli))
				}
			}
		})
	}
}

// TestCommKeepsWaiting: with --comm, httptrace outlives every matching
// process and stops on SIGINT with a summary and status 0.
func TestCommKeepsWaiting(t *testing.T) {
	dir := t.TempDir()
	name := "htcommsleep"
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, sleep, filepath.Join(dir, name))
	tl := attached(t, "--comm", name)
	cmd := exec.Command(filepath.Join(dir, name), "0.3")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if tl.exited() {
		t.Fatalf("httptrace exited (%d) though --comm keeps it waiting:\n%s", tl.code, strings.Join(tl.Stderr(), "\n"))
	}
	if !exitLogged(tl, cmd.Process.Pid) {
		t.Errorf("exit of %s (%d) not logged:\n%s", name, cmd.Process.Pid, strings.Join(tl.Stderr(), "\n"))
	}
	tl.cmd.Process.Signal(os.Interrupt)
	if code := tl.waitExit(t, 30*time.Second); code != 0 {
		t.Fatalf("exit status %d after SIGINT", code)
	}
	if r := fmt.Sprint(summaryOf(t, tl)["reason"]); r != "stopped" {
		t.Errorf("summary reason %q", r)
	}
}

// TestSecondSIGINTExitsAtOnce: a second SIGINT during shutdown ends the
// process with status 130 and no summary. A shutdown quicker than the
// second signal is a clean stop; the test then tries again.
func TestSecondSIGINTExitsAtOnce(t *testing.T) {
	for attempt := 1; attempt <= 5; attempt++ {
		target, _ := gated(t, "exit 0")
		tl := attached(t, "--pid", strconv.Itoa(target.Process.Pid))
		// SIGINT every 100µs for 50ms: signals sent while one is pending
		// merge, so the shutdown must see at least two apart.
		for end := time.Now().Add(50 * time.Millisecond); time.Now().Before(end) && !tl.exited(); {
			tl.cmd.Process.Signal(os.Interrupt)
			time.Sleep(100 * time.Microsecond)
		}
		code := tl.waitExit(t, 30*time.Second)
		if code == 130 {
			for _, l := range tl.Stderr() {
				if strings.Contains(l, "summary:") {
					t.Errorf("summary logged after the second SIGINT: %s", l)
				}
			}
			return
		}
		if code != 0 {
			t.Fatalf("exit status %d:\n%s", code, strings.Join(tl.Stderr(), "\n"))
		}
		t.Logf("attempt %d: stopped cleanly before the second SIGINT arrived", attempt)
	}
	t.Fatal("a second SIGINT never forced exit status 130")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o755); err != nil {
		t.Fatal(err)
	}
}

// TestInitIsAllowed: tracing PID 1 is legitimate (a container's init, a
// service manager); it runs until --duration and exits 0.
func TestInitIsAllowed(t *testing.T) {
	tl := attached(t, "--pid", "1", "--duration", "1s")
	if code := tl.waitExit(t, 30*time.Second); code != 0 {
		t.Fatalf("exit status %d:\n%s", code, strings.Join(tl.Stderr(), "\n"))
	}
	if r := fmt.Sprint(summaryOf(t, tl)["reason"]); r != "stopped" {
		t.Errorf("summary reason %q", r)
	}
}
