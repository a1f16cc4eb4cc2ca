package pipeline

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/container"
	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/exchange"
	"github.com/httptrace/httptrace/pkg/filter"
	"github.com/httptrace/httptrace/pkg/output"
	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/redact"
)

// batches is a Source that hands over one batch of raw records per Read.
type batches struct{ queue [][][]byte }

func (b *batches) Wait(time.Duration) error { return nil }
func (b *batches) Wake() error              { return nil }
func (b *batches) Read(fn func([]byte)) (int, error) {
	if len(b.queue) == 0 {
		return 0, nil
	}
	batch := b.queue[0]
	b.queue = b.queue[1:]
	for _, rec := range batch {
		fn(rec)
	}
	return len(batch), nil
}

// dataRecord encodes a struct httptrace_data record (IPv4, loopback).
// at is the syscall's entry time; it returns 500 ns later.
func dataRecord(pid uint32, conn, pos, at uint64, dir event.Direction, sys event.Syscall, payload string) []byte {
	d := event.Data{
		PID: pid, TID: pid, FD: 5, StartNs: at, EndNs: at + 500, Conn: conn, Pos: pos,
		Bytes: uint32(len(payload)), Dir: dir, Syscall: sys, Flags: event.ConnAccepted,
		Local: netip.MustParseAddrPort("127.0.0.1:8080"), Peer: netip.MustParseAddrPort("127.0.0.1:40000"),
		Captured: []byte(payload),
	}
	copy(d.Comm[:], "server")
	return event.EncodeData(&d)
}

func procRecord(op event.ProcOp, pid uint32) []byte {
	raw := make([]byte, event.ProcSize)
	binary.NativeEndian.PutUint32(raw[0:], uint32(event.KindProc))
	binary.NativeEndian.PutUint32(raw[4:], uint32(op))
	binary.NativeEndian.PutUint32(raw[8:], pid)
	return raw
}

// TestRecordsToSink runs raw records through every stage: decoding, the
// exchange tracker, redaction and the JSON sink, and ends the run when the
// last traced process exits.
func TestRecordsToSink(t *testing.T) {
	req := "GET /a?token=t0k HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\n\r\n"
	resp := "HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno"
	now := MonotonicNow() // Tick expires requests older than the timeout
	src := &batches{queue: [][][]byte{
		{dataRecord(10, 7, 0, now+1000, event.Recv, event.SysRecvfrom, req), {0xff, 0, 0, 0}},
		{dataRecord(10, 7, 0, now+3000, event.Send, event.SysSendto, resp), procRecord(event.ProcFork, 11)},
		{procRecord(event.ProcExit, 10)},
		{procRecord(event.ProcExit, 11)},
	}}
	redactor, err := redact.New(redact.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	log := logrus.New()
	log.SetOutput(io.Discard)
	p := New(Options{
		Source:   src,
		Exchange: exchange.DefaultOptions(),
		Redactor: redactor,
		Sinks:    []output.Sink{output.NewJSON(&out, output.NewClock(0))},
		Procs:    NewProcs([]int{10}, false),
		Log:      log,
	})
	reason, err := p.Run(context.Background())
	if err != nil || reason != StopExited {
		t.Fatalf("Run = %q, %v; want %q", reason, err, StopExited)
	}
	if err := p.Finish(); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("output %q: %v", out.String(), err)
	}
	headers, _ := got["headers"].(map[string]any)
	checks := map[string]bool{
		"method":        got["method"] == "GET",
		"path redacted": got["path"] == "/a?token=[redacted]",
		"status":        got["status"] == float64(404),
		"header":        headers["Authorization"] == "[redacted]",
		"server":        got["server"] == "127.0.0.1:8080",
		"client":        got["client"] == "127.0.0.1:40000",
		"side":          got["side"] == "server",
		"sizes":         got["request_bytes"] == float64(len(req)) && got["response_bytes"] == float64(len(resp)),
		"latency":       got["latency_ms"] == 0.0015, // response write entry (3000) - request read return (1500)
		"no secret":     !bytes.Contains(out.Bytes(), []byte("s3cret")) && !bytes.Contains(out.Bytes(), []byte("t0k")),
	}
	for name, ok := range checks {
		if !ok {
			t.Errorf("%s wrong in %s", name, out.String())
		}
	}
	if s := p.Stats(); s.Records != 6 || s.DecodeErrors != 1 {
		t.Errorf("stats %+v, want 6 records and 1 decode error", s)
	}
	if n := p.Tracker().Stats().Exchanges; n != 1 {
		t.Errorf("%d exchanges, want 1", n)
	}
}

// TestKeepWaitingByName: a run that selects processes by name does not end
// when the set is empty.
func TestKeepWaitingByName(t *testing.T) {
	p := NewProcs(nil, true)
	if p.Done(0) {
		t.Error("a run selecting by name ended with no process")
	}
	p = NewProcs(nil, false)
	if !p.Done(0) {
		t.Error("a run selecting by PID did not end with no process")
	}
}

// libCalls records what the pipeline tells the library prober.
type libCalls []string

func (l *libCalls) Exec(pid int) { *l = append(*l, "exec "+strconv.Itoa(pid)) }
func (l *libCalls) Mapped(pid int, at time.Duration) {
	*l = append(*l, "mapped "+strconv.Itoa(pid)+" "+at.String())
}
func (l *libCalls) Forked(pid int, at time.Duration) {
	*l = append(*l, "forked "+strconv.Itoa(pid)+" "+at.String())
}
func (l *libCalls) Exited(pid int) { *l = append(*l, "exited "+strconv.Itoa(pid)) }

// Each process record that can change what a traced process maps reaches
// the library prober, with the record's time where it measures a delay.
func TestProcsToLibraries(t *testing.T) {
	at := func(op event.ProcOp, pid uint32, ns uint64) []byte {
		raw := procRecord(op, pid)
		binary.NativeEndian.PutUint64(raw[16:], ns)
		return raw
	}
	src := &batches{queue: [][][]byte{
		{at(event.ProcFork, 11, 100), at(event.ProcExec, 11, 200), at(event.ProcTLSMap, 11, 300), at(event.ProcListen, 12, 400)},
		{at(event.ProcExit, 11, 500), at(event.ProcExit, 12, 550), at(event.ProcExit, 10, 600)},
	}}
	var libs libCalls
	log := logrus.New()
	log.SetOutput(io.Discard)
	p := New(Options{Source: src, Exchange: exchange.DefaultOptions(), Procs: NewProcs([]int{10}, false), Libraries: &libs, Log: log})
	if reason, err := p.Run(context.Background()); err != nil || reason != StopExited {
		t.Fatalf("Run = %q, %v; want %q", reason, err, StopExited)
	}
	want := []string{"forked 11 100ns", "exec 11", "mapped 11 300ns", "exec 12", "exited 11", "exited 12", "exited 10"}
	if !slices.Equal(libs, want) {
		t.Errorf("the prober was told %q, want %q", libs, want)
	}
}

// tally counts what it is written.
type tally struct{ n int }

func (c *tally) Write(*record.Exchange) error { c.n++; return nil }
func (c *tally) Flush() error                 { return nil }

// Observers see every exchange, the filter's left-outs too; sinks only
// what passes.
func TestObserversBeforeFilter(t *testing.T) {
	req := "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
	resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	now := MonotonicNow()
	src := &batches{queue: [][][]byte{
		{dataRecord(10, 7, 0, now+1000, event.Recv, event.SysRecvfrom, req)},
		{dataRecord(10, 7, 0, now+3000, event.Send, event.SysSendto, resp)},
		{procRecord(event.ProcExit, 10)},
	}}
	var f filter.Filter
	if err := f.Add("status", "5xx"); err != nil {
		t.Fatal(err)
	}
	sink, observer := &tally{}, &tally{}
	log := logrus.New()
	log.SetOutput(io.Discard)
	p := New(Options{Source: src, Exchange: exchange.DefaultOptions(), Filter: &f, Sinks: []output.Sink{sink},
		Observers: []output.Sink{observer}, Procs: NewProcs([]int{10}, false), Log: log})
	if _, err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Finish(); err != nil {
		t.Fatal(err)
	}
	if observer.n != 1 || sink.n != 0 || p.Stats().FilteredOut != 1 {
		t.Errorf("observer saw %d, sink %d, filtered out %d; want 1, 0, 1", observer.n, sink.n, p.Stats().FilteredOut)
	}
}

// kept remembers what the exchanges it is given carry.
type kept struct{ got []record.Exchange }

func (k *kept) Write(e *record.Exchange) error { k.got = append(k.got, *e); return nil }
func (k *kept) Flush() error                   { return nil }

// hooked is batches with a hook run before each batch is read.
type hooked struct {
	batches
	hook func(batch int)
	n    int
}

func (h *hooked) Read(fn func([]byte)) (int, error) {
	h.hook(h.n)
	h.n++
	return h.batches.Read(fn)
}

// TestContainerLabels: the exchanges of a process in a container carry its
// container, read from its cgroup when the process was first seen (here
// its fork), so that the exchanges it leaves when it exits, ended after its
// /proc entry is gone, keep it; observers and sinks alike.
func TestContainerLabels(t *testing.T) {
	const id = "3f1d8a6e2b9c4d7e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6"
	root := t.TempDir()
	for pid, files := range map[string][2]string{
		"10": {"0::/libpod_parent/libpod-" + id + "\n", "NSpid:\t10\t1\n"},
		"20": {"0::/system.slice/nginx.service\n", "NSpid:\t20\n"},
	} {
		stat := pid + " (srv) S 1 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 77 0 0"
		for name, body := range map[string]string{"cgroup": files[0], "status": files[1], "stat": stat} {
			if err := os.MkdirAll(filepath.Join(root, pid), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, pid, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	req := "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
	resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	now := MonotonicNow()
	src := &hooked{batches: batches{queue: [][][]byte{
		{procRecord(event.ProcFork, 10), dataRecord(10, 7, 0, now+1000, event.Recv, event.SysRecvfrom, req), dataRecord(20, 8, 0, now+1000, event.Recv, event.SysRecvfrom, req)},
		{dataRecord(10, 7, 0, now+3000, event.Send, event.SysSendto, resp[:20]), dataRecord(20, 8, 0, now+3000, event.Send, event.SysSendto, resp)},
		{procRecord(event.ProcExit, 10), procRecord(event.ProcExit, 20)},
	}}}
	// Process 10 is gone (reaped) before its exchange ends, at its exit.
	src.hook = func(batch int) {
		if batch == 1 {
			if err := os.RemoveAll(filepath.Join(root, "10")); err != nil {
				t.Fatal(err)
			}
		}
	}
	sink, observer := &kept{}, &kept{}
	log := logrus.New()
	log.SetOutput(io.Discard)
	p := New(Options{Source: src, Exchange: exchange.DefaultOptions(), Sinks: []output.Sink{sink}, Observers: []output.Sink{observer},
		Procs: NewProcs([]int{10, 20}, false), Containers: container.NewResolver(root), Log: log})
	if _, err := p.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := p.Finish(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []*kept{sink, observer} {
		if len(k.got) != 2 {
			t.Fatalf("%d exchanges, want 2", len(k.got))
		}
		for _, e := range k.got {
			want := record.Exchange{}
			if e.PID == 10 {
				want.ContainerID, want.ContainerPID = id, 1
			}
			if e.ContainerID != want.ContainerID || e.ContainerPID != want.ContainerPID || e.PodUID != "" {
				t.Errorf("pid %d: container %q pid %d pod %q, want %q pid %d", e.PID, e.ContainerID, e.ContainerPID, e.PodUID, want.ContainerID, want.ContainerPID)
			}
		}
	}
}
