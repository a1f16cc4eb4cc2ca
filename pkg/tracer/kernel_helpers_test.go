package tracer

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/bpfobj"
	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/probes"
)

// The kernel tests' children, tracers and ring buffers.

// attachMode is the mode under test: HTTPTRACE_ATTACH, tracepoint by default
// (the development machines have no kprobes).
func attachMode() probes.Mode {
	if m := os.Getenv("HTTPTRACE_ATTACH"); m != "" {
		return probes.Mode(m)
	}
	return probes.ModeTracepoint
}

// child is the traced process and the pipes to it.
type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func (c *child) expect(t *testing.T, word string) []string {
	t.Helper()
	if !c.out.Scan() {
		t.Fatalf("child stopped before %q", word)
	}
	f := strings.Fields(c.out.Text())
	if len(f) == 0 || f[0] != word {
		t.Fatalf("child said %q, want %q", c.out.Text(), word)
	}
	return f[1:]
}

func (c *child) say(t *testing.T, word string) {
	t.Helper()
	if _, err := fmt.Fprintln(c.in, word); err != nil {
		t.Fatal(err)
	}
}

// socketInode reads socket:[N] of a process's fd.
func socketInode(t *testing.T, pid int, fd string) uint64 {
	t.Helper()
	target, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd))
	if err != nil {
		t.Fatal(err)
	}
	var ino uint64
	if _, err := fmt.Sscanf(target, "socket:[%d]", &ino); err != nil {
		t.Fatalf("fd %s is %q, not a socket", fd, target)
	}
	return ino
}

// openTracer opens a tracer of process pid with plan, copying capture
// bytes of each call into a ring of ringBytes; it is closed when the test
// ends.
func openTracer(t *testing.T, pid int, plan probes.Plan, capture, ringBytes int, legacy bool) *Tracer {
	t.Helper()
	log := logrus.New()
	log.SetLevel(logrus.WarnLevel)
	tr, err := Open(Options{PIDs: []int{pid}, CaptureBytes: capture, RingBytes: ringBytes, WakeupBytes: 1, Plan: plan, Log: log, Legacy: legacy})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	return tr
}

// ringOf reads tr's ring buffer into the channel it returns, until the
// test ends.
func ringOf(t *testing.T, tr *Tracer) chan []byte {
	t.Helper()
	ch := make(chan []byte, 1024)
	rb, err := tr.mod.InitRingBuf(bpfobj.MapEvents, ch)
	if err != nil {
		t.Fatal(err)
	}
	rb.Poll(50)
	t.Cleanup(rb.Close)
	return ch
}

// dialedRole runs the test binary in role, told the port of a listener
// of the test's, and returns it once it has connected: the test's end of
// the connection and the connection's id (the child's socket's inode).
func dialedRole(t *testing.T, role string) (*child, net.Conn, uint64) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := startRole(t, role, ln.Addr().(*net.TCPAddr).Port)
	peer, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return c, peer, socketInode(t, c.cmd.Process.Pid, c.expect(t, "connected")[0])
}

func startChild(t *testing.T, port int) *child {
	t.Helper()
	return startRole(t, "child", port)
}

// startRole runs the test binary as a child in role, told port.
func startRole(t *testing.T, role string, port int) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childRole+"="+role, "HTTPTRACE_TRACER_TEST_PORT="+strconv.Itoa(port))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return &child{cmd: cmd, in: in, out: bufio.NewScanner(out)}
}

func readFull(c net.Conn, into *strings.Builder, n int) error {
	buf := make([]byte, n)
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	into.Write(buf)
	return nil
}

func hasProc(ps []event.Proc, op event.ProcOp, pid uint32) bool {
	for _, p := range ps {
		if p.Op == op && p.PID == pid {
			return true
		}
	}
	return false
}
