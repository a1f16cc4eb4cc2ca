package preflight

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fakeProc writes /proc/PID/{stat,status,cmdline} under a temporary root.
func fakeProc(t *testing.T, root string, pid int, stat, status, cmdline string) {
	t.Helper()
	dir := filepath.Join(root, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"stat": stat, "status": status, "cmdline": cmdline} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPIDFixtures checks each verdict against /proc files written by hand,
// including command names with spaces and parentheses.
func TestPIDFixtures(t *testing.T) {
	defer func(p string, s func() int) { ProcRoot, selfPID = p, s }(ProcRoot, selfPID)
	ProcRoot = t.TempDir()
	selfPID = func() int { return 500 }
	user := "S 1 10 10 0 -1 4194560 0 0"  // flags: PF_RANDOMIZE | PF_FORKNOEXEC
	kthread := "S 0 0 0 0 -1 2129984 0 0" // kthreadd's flags: PF_KTHREAD set
	fakeProc(t, ProcRoot, 1, "1 (init) "+user, "Tgid:\t1\nThreads:\t1\n", "/sbin/init\x00")
	fakeProc(t, ProcRoot, 2, "2 (kthreadd) "+kthread, "Tgid:\t2\nThreads:\t1\n", "")
	fakeProc(t, ProcRoot, 30, "30 (a) b (c)) Z 29 30 30 0 -1 4194564 0 0", "Tgid:\t30\nThreads:\t1\n", "")
	fakeProc(t, ProcRoot, 31, "31 (leader) Z 1 31 31 0 -1 4194564 0 0", "Tgid:\t31\nThreads:\t4\n", "")
	fakeProc(t, ProcRoot, 40, "40 (worker) "+user, "Tgid:\t39\nThreads:\t8\n", "srv\x00")
	fakeProc(t, ProcRoot, 50, "50 (odd) "+kthread, "Tgid:\t50\nThreads:\t1\n", "helper\x00")
	fakeProc(t, ProcRoot, 60, "garbage", "Tgid:\t60\n", "")
	fakeProc(t, ProcRoot, 61, "61 (x) "+user, "Name:\tx\n", "x\x00")
	fakeProc(t, ProcRoot, 500, "500 (httptrace) "+user, "Tgid:\t500\nThreads:\t1\n", "httptrace\x00")
	cases := []struct {
		pid  int
		want string // "" for accepted
	}{
		{1, ""},
		{31, ""}, // a zombie leader whose threads still run is alive
		{50, ""}, // PF_KTHREAD with a command line: not a kernel thread
		{0, "PID 0 is not a process ID"},
		{-7, "PID -7 is not a process ID"},
		{77, "PID 77: no such process"},
		{2, "PID 2 (kthreadd) is a kernel thread, which makes no HTTP requests: pass the PID of a user-space process"},
		{30, "PID 30 (a) b (c)) has exited and waits for its parent (PID 29) to reap it: there is nothing left to trace"},
		{40, "PID 40 is a thread of process 39: pass --pid 39 (every thread of a process is traced)"},
		{500, "PID 500 is httptrace itself: pass the PID of the process to trace"},
		{60, `PID 60: unreadable /proc stat "garbage"`},
		{61, "PID 61: no Tgid line in process status"},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.pid), func(t *testing.T) {
			err := PIDs([]int{tc.pid})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.want != "" && (err == nil || err.Error() != tc.want):
				t.Errorf("got %v\nwant %s", err, tc.want)
			}
		})
	}
	if err := PIDs([]int{1, 2}); err == nil || !strings.HasPrefix(err.Error(), "PID 2 ") {
		t.Errorf("a list stops at its first bad PID: %v", err)
	}
}

// TestPIDsLive checks the verdicts on real processes: this one, a zombie
// made here, one of this process's threads and kthreadd.
func TestPIDsLive(t *testing.T) {
	if err := PIDs([]int{os.Getpid()}); err == nil || !strings.Contains(err.Error(), "is httptrace itself") {
		t.Errorf("own PID: %v", err)
	}
	if err := PIDs([]int{os.Getppid()}); err != nil {
		t.Errorf("parent: %v", err)
	}
	if err := PIDs([]int{2}); err == nil || !strings.Contains(err.Error(), "is a kernel thread") {
		t.Errorf("kthreadd: %v", err)
	}

	// A child that has exited and is not waited for is a zombie.
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	zombie := cmd.Process.Pid
	waitState(t, zombie, 'Z')
	want := fmt.Sprintf("PID %d (true) has exited and waits for its parent (PID %d) to reap it", zombie, os.Getpid())
	if err := PIDs([]int{zombie}); err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("zombie: %v\nwant %s", err, want)
	}

	// A Go test process has several threads; any but the first is not a process.
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		tid, _ := strconv.Atoi(task.Name())
		if tid == os.Getpid() {
			continue
		}
		want := fmt.Sprintf("PID %d is a thread of process %d", tid, os.Getpid())
		if err := PIDs([]int{tid}); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("thread: %v, want %s", err, want)
		}
		break
	}
}

// waitState waits until /proc/PID/stat shows the state letter.
func waitState(t *testing.T, pid int, state byte) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if st, err := readStat(pid); err == nil && st.state == state {
			return
		}
	}
	t.Fatalf("PID %d never reached state %c", pid, state)
}
