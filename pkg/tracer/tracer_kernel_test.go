package tracer

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/bpfobj"
	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/kernel"
	"github.com/httptrace/httptrace/pkg/libbpf"
	"github.com/httptrace/httptrace/pkg/preflight"
	"github.com/httptrace/httptrace/pkg/probes"
)

// records holds what the ring buffer delivered, decoded.
type records struct {
	data   []event.Data
	closes []event.Close
	procs  []event.Proc
}

func (r *records) add(t *testing.T, raw []byte) {
	kind, err := event.RecordKind(raw)
	if err != nil {
		t.Errorf("record: %v", err)
		return
	}
	switch kind {
	case event.KindData:
		var d event.Data
		if err := event.DecodeData(raw, &d); err != nil {
			t.Errorf("data record: %v", err)
			return
		}
		d.Captured = append([]byte(nil), d.Captured...)
		r.data = append(r.data, d)
	case event.KindClose:
		var c event.Close
		if err := event.DecodeClose(raw, &c); err != nil {
			t.Errorf("close record: %v", err)
		}
		r.closes = append(r.closes, c)
	case event.KindProc:
		var p event.Proc
		if err := event.DecodeProc(raw, &p); err != nil {
			t.Errorf("process record: %v", err)
		}
		r.procs = append(r.procs, p)
	default:
		t.Errorf("record of kind %d", kind)
	}
}

// TestTracerKernel traces a child doing real loopback TCP traffic with
// every socket syscall and checks every record it causes, with the object
// the kernel gets and, where that is the current one, with the legacy one.
func TestTracerKernel(t *testing.T) {
	host, plan := kernelPlan(t)
	// The kernels this runs on number their releases as upstream does: the
	// kernel's own answer about bpf_loop must match 5.17.
	if ok, err := libbpf.LoopSupported(); err != nil || ok != kernel.AtLeast(host.Release, 5, 17) ||
		bpfobj.NeedsLegacy(host.Release) == ok {
		t.Errorf("kernel %s: bpf_loop supported %v (%v), legacy object chosen %v", host.Release, ok, err, bpfobj.NeedsLegacy(host.Release))
	}
	objects := []bool{true}
	if !bpfobj.NeedsLegacy(host.Release) {
		objects = []bool{false, true}
	}
	for _, legacy := range objects {
		t.Run(map[bool]string{false: "current", true: "legacy"}[legacy], func(t *testing.T) { traceChild(t, host, plan, legacy) })
	}
}

// kernelPlan skips the test unless it can load BPF programs, and makes
// this host ready for them; it returns the host and the plan of the mode
// under test, every probe in it.
func kernelPlan(t *testing.T) (kernel.Host, probes.Plan) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to load BPF programs")
	}
	host := kernel.DefaultHost
	if _, err := preflight.Tracefs(); err != nil {
		t.Fatal(err)
	}
	if _, err := preflight.Memlock(host.Release); err != nil {
		t.Fatal(err)
	}
	plan, err := probes.Resolve(host, probes.DefaultPlan(attachMode()))
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Skipped) > 0 {
		t.Fatalf("probes left out: %v", plan.Skipped)
	}
	return host, plan
}

// traceChild is TestTracerKernel with one object.
func traceChild(t *testing.T, host kernel.Host, plan probes.Plan, legacy bool) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := startChild(t, ln.Addr().(*net.TCPAddr).Port)
	port := c.expect(t, "listen")[0]
	peerA, err := net.Dial("tcp4", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer peerA.Close()
	afd := c.expect(t, "accepted")[0]
	connA := socketInode(t, c.cmd.Process.Pid, afd)

	tr := openTracer(t, c.cmd.Process.Pid, plan, 4096, 1<<20, legacy)
	ch := ringOf(t, tr)
	var got records
	drain := func(until func() bool, d time.Duration) {
		deadline := time.After(d)
		for !until() {
			select {
			case raw := <-ch:
				got.add(t, raw)
			case <-deadline:
				return
			}
		}
	}

	// The child sends on the socket it accepted before tracing began, the
	// first skipBytes of which we ask not to be copied ...
	if err := tr.SetSkip(connA, 0, event.Send, skipBytes); err != nil {
		t.Fatal(err)
	}
	c.say(t, "go")
	c.expect(t, "sent")
	var sent, want strings.Builder
	for _, p := range sendPayloads {
		want.WriteString(strings.Join(p.parts, ""))
	}
	if err := readFull(peerA, &sent, want.Len()); err != nil || sent.String() != want.String() {
		t.Fatalf("peer read %q (%v), want %q", sent.String(), err, want.String())
	}
	// ... receives ...
	var queued strings.Builder
	for _, p := range recvPayloads {
		queued.WriteString(strings.Join(p.parts, ""))
	}
	if _, err := peerA.Write([]byte(queued.String())); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // loopback delivers at once; leave margin
	c.say(t, "recv")
	// ... a forked child writes on the inherited socket, then the child
	// connects to us.
	peerB, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer peerB.Close()
	connB := socketInode(t, c.cmd.Process.Pid, c.expect(t, "connected")[0])
	var fromB strings.Builder
	if err := readFull(peerB, &fromB, len(connectPayload)); err != nil {
		t.Fatal(err)
	}
	var fromGrandchild strings.Builder
	if err := readFull(peerA, &fromGrandchild, len(grandchildPayload)); err != nil || fromGrandchild.String() != grandchildPayload {
		t.Fatalf("grandchild wrote %q (%v)", fromGrandchild.String(), err)
	}
	c.say(t, "close")
	c.expect(t, "done")
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	childPID := uint32(c.cmd.Process.Pid)
	drain(func() bool {
		return len(got.closes) >= 2 && hasProc(got.procs, event.ProcExit, childPID)
	}, 5*time.Second)

	checkRecords(t, &got, childPID, connA, connB, peerA, peerB, legacy)
	counters, err := tr.Counters()
	if err != nil {
		t.Fatal(err)
	}
	if counters.BPF[event.StatRecordsDropped] != 0 || counters.BPF[event.StatRecordsSent] == 0 || counters.BPF[event.StatSkips] != 1 ||
		counters.BPF[event.StatIovCut] != wantIovCut(legacy) {
		t.Errorf("counters %v (iov_cut: want %d)", counters.BPF, wantIovCut(legacy))
	}
	// Every kernel says what the kprobe events missed.
	if want := plan.Mode == probes.ModeKprobe; counters.KprobeMissedKnown != want {
		t.Errorf("kprobe misses known %v, want %v (missed %d)", counters.KprobeMissedKnown, want, counters.KprobeMissed)
	}
	if plan.Mode == probes.ModeKprobe {
		// The kprobes and kretprobes are tracefs events, the kretprobes with
		// room for kretprobeMaxActive calls.
		events, err := os.ReadFile(kprobeEventsPath(host))
		for _, want := range []string{"p:" + kprobeGroup() + "/", fmt.Sprintf("r%d:%s/", kretprobeMaxActive, kprobeGroup())} {
			if err != nil || !strings.Contains(string(events), want) {
				t.Errorf("kprobe_events while attached has no %q (%v):\n%s", want, err, events)
			}
		}
	}
	stats, err := tr.ProgramStats()
	if err != nil || len(stats) != len(plan.Programs()) {
		t.Errorf("program stats %+v, %v; want %d programs", stats, err, len(plan.Programs()))
	}
	t.Logf("mode=%s kernel=%s data=%d closes=%d procs=%d counters=%v kprobe_missed=%d runs_skipped=%d", plan.Mode, host.Release,
		len(got.data), len(got.closes), len(got.procs), counters.BPF, counters.KprobeMissed, counters.RunsSkipped)
	tr.Detach()
	tr.Detach() // idempotent
	if plan.Mode == probes.ModeKprobe {
		// The probes' tracefs events are gone with their links.
		events, err := os.ReadFile(kprobeEventsPath(host))
		if err != nil || strings.Contains(string(events), kprobeGroup()+"/") {
			t.Errorf("kprobe_events after detach (%v):\n%s", err, events)
		}
	}
}

// skipBytes is where copying starts on connection A's send side (SetSkip):
// inside the second buffer of the first writev.
const skipBytes = 10

// span is what one record should say, in stream order.
type span struct {
	sys      event.Syscall
	text     string
	captured bool
	skip     int // bytes at the start left out of the copy
	cut      int // bytes at the end not copied (past the iovecs the legacy object copies)
}

// spans is one span per payload: a vector transfer is one record, its
// buffers' bytes following each other. maxIovs is how many iovecs of one
// transfer the object copies.
func spans(ps []payload, maxIovs int) []span {
	var out []span
	for _, p := range ps {
		sys := syscallByName(p.sys)
		sp := span{sys: sys, text: strings.Join(p.parts, ""), captured: sys != event.SysSendfile}
		if len(p.parts) > maxIovs {
			sp.cut = len(sp.text) - len(strings.Join(p.parts[:maxIovs], ""))
		}
		out = append(out, sp)
	}
	return out
}

// wantIovCut is how many of the child's transfers are cut short of their
// iovecs: the long writev, with the legacy object.
func wantIovCut(legacy bool) uint64 {
	if legacy {
		return 1
	}
	return 0
}

// copiedIovecs is how many iovecs of one transfer the object copies.
func copiedIovecs(legacy bool) int {
	if legacy {
		return event.LegacyMaxIovecs
	}
	return event.MaxIovecs
}

func syscallByName(name string) event.Syscall {
	for s := event.SysRead; s < event.SysCount; s++ {
		if s.String() == name {
			return s
		}
	}
	return 0
}

// checkStream checks the records of one direction of one connection: in
// position order, contiguous from 0, one per span with its syscall and bytes.
func checkStream(t *testing.T, name string, recs []event.Data, want []span) {
	t.Helper()
	sort.Slice(recs, func(i, j int) bool { return recs[i].Pos < recs[j].Pos })
	if len(recs) != len(want) {
		t.Errorf("%s: %d records, want %d: %+v", name, len(recs), len(want), recs)
		return
	}
	var pos uint64
	for i, r := range recs {
		w := want[i]
		wantCaptured := w.text[w.skip : len(w.text)-w.cut]
		if !w.captured {
			wantCaptured = ""
		}
		if r.Pos != pos || r.Syscall != w.sys || r.Bytes != uint32(len(w.text)) || r.CapturedOff != uint32(w.skip) ||
			string(r.Captured) != wantCaptured || r.EndNs < r.StartNs {
			t.Errorf("%s record %d: pos %d syscall %s bytes %d captured %q at %d; want pos %d %s %q",
				name, i, r.Pos, r.Syscall, r.Bytes, r.Captured, r.CapturedOff, pos, w.sys, w.text)
		}
		pos += uint64(r.Bytes)
	}
}

func checkRecords(t *testing.T, got *records, childPID uint32, connA, connB uint64, peerA, peerB net.Conn, legacy bool) {
	t.Helper()
	var grandchild uint32
	for _, p := range got.procs {
		if p.Op == event.ProcFork && p.PPID == childPID {
			grandchild = p.PID
		}
	}
	if grandchild == 0 || !hasProc(got.procs, event.ProcExec, grandchild) || !hasProc(got.procs, event.ProcExit, grandchild) ||
		!hasProc(got.procs, event.ProcExit, childPID) {
		t.Errorf("process records %+v: want fork, exec and exit of a grandchild of %d, and exit of %d", got.procs, childPID, childPID)
	}
	streams := map[string][]event.Data{}
	for _, d := range got.data {
		if d.PID != childPID && d.PID != grandchild {
			t.Errorf("record of untraced process %d: %+v", d.PID, d)
			continue
		}
		switch d.Conn {
		case connA:
			if d.Flags != event.ConnAdopted || d.Local.String() != peerA.RemoteAddr().String() || d.Peer.String() != peerA.LocalAddr().String() {
				t.Errorf("connection A record: flags %d local %s peer %s", d.Flags, d.Local, d.Peer)
			}
		case connB:
			if d.Flags != event.ConnConnected || d.Local.String() != peerB.RemoteAddr().String() || d.Peer.String() != peerB.LocalAddr().String() {
				t.Errorf("connection B record: flags %d local %s peer %s", d.Flags, d.Local, d.Peer)
			}
		default:
			t.Errorf("record of unknown connection %d (A %d, B %d): %+v", d.Conn, connA, connB, d)
			continue
		}
		key := fmt.Sprintf("conn=%d %s", d.Conn, d.Dir)
		streams[key] = append(streams[key], d)
	}
	iovs := copiedIovecs(legacy)
	sendA := append(spans(sendPayloads, iovs), span{sys: event.SysWrite, text: grandchildPayload, captured: true})
	sendA[0].skip = skipBytes
	checkStream(t, "A send", streams[fmt.Sprintf("conn=%d send", connA)], sendA)
	checkStream(t, "A recv", streams[fmt.Sprintf("conn=%d recv", connA)], spans(recvPayloads, iovs))
	checkStream(t, "B send", streams[fmt.Sprintf("conn=%d send", connB)], []span{{sys: event.SysWrite, text: connectPayload, captured: true}})
	if n := len(streams[fmt.Sprintf("conn=%d recv", connB)]); n != 0 {
		t.Errorf("B recv: %d records, want none", n)
	}
	for _, d := range streams[fmt.Sprintf("conn=%d send", connA)] {
		if want := childPID; d.Syscall == event.SysWrite && string(d.Captured) == grandchildPayload {
			want = grandchild
			if d.PID != want {
				t.Errorf("grandchild's write has pid %d, want %d", d.PID, want)
			}
		}
	}
	closed := map[uint64]bool{}
	for _, c := range got.closes {
		if c.PID != childPID {
			t.Errorf("close by %d: %+v", c.PID, c)
		}
		if closed[c.Conn] {
			t.Errorf("connection %d closed twice", c.Conn)
		}
		closed[c.Conn] = true
	}
	if !closed[connA] || !closed[connB] || len(closed) != 2 {
		t.Errorf("closes %+v, want connections %d and %d", got.closes, connA, connB)
	}
}
