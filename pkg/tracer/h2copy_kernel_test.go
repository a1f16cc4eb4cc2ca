package tracer

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/httptrace/httptrace/pkg/bpfobj"
	"github.com/httptrace/httptrace/pkg/event"
)

// h2Preface is HTTP/2's client preface: a connection whose first bytes
// are it has its calls copied whole (bpf/h2copy.h).
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// h2Calls are the h2writer's calls after the preface: a write of 40 KiB
// (three records), one of 200 KiB (past the eight records of 16 KiB a
// call gets: the last carries the rest, uncaptured past its first 16 KiB)
// and a writev of 40 KiB in ten iovecs.
var h2Calls = []struct {
	sys  string
	size int
}{{"write", 40 << 10}, {"write", 200 << 10}, {"writev", 40 << 10}}

// h2Byte is the stream's byte at position pos past the preface.
func h2Byte(pos int) byte { return byte(pos*7 + pos/251) }

// h2Stream is the whole stream the h2writer sends.
func h2Stream() []byte {
	b := []byte(h2Preface)
	for _, c := range h2Calls {
		for range c.size {
			b = append(b, h2Byte(len(b)))
		}
	}
	return b
}

// runH2Writer is the h2writer child: it connects to the test, and on "go"
// sends the preface and h2Calls, each with its syscall.
func runH2Writer() error {
	fd, err := dial(os.Getenv("HTTPTRACE_TRACER_TEST_PORT"))
	if err != nil {
		return err
	}
	fmt.Println("connected", fd)
	var word string
	if _, err := fmt.Scanln(&word); err != nil || word != "go" {
		return fmt.Errorf("waiting for go: %q %v", word, err)
	}
	stream := h2Stream()
	if _, err := unix.Write(fd, stream[:len(h2Preface)]); err != nil {
		return err
	}
	at := len(h2Preface)
	for _, c := range h2Calls {
		b := stream[at : at+c.size]
		var n int
		if c.sys == "writev" {
			var iovs [][]byte
			for i := 0; i < len(b); i += len(b) / 10 {
				iovs = append(iovs, b[i:min(i+len(b)/10, len(b))])
			}
			n, err = unix.Writev(fd, iovs)
		} else {
			n, err = unix.Write(fd, b)
		}
		if err != nil || n != c.size {
			return fmt.Errorf("%s of %d bytes: %d, %v", c.sys, c.size, n, err)
		}
		at += c.size
	}
	fmt.Println("sent")
	_, err = fmt.Scanln(&word)
	return err
}

// h2Record is a record the copy of an HTTP/2 connection's call must make.
type h2Record struct {
	pos, bytes, captured int
	part                 uint16
}

// wantH2Records are the records of the h2writer's calls: buffer calls are
// sent as consecutive records of up to 16 KiB (eight at most), and so are
// vector calls, except in the legacy object, which copies those as any
// other call (capture bytes).
func wantH2Records(legacy bool, capture int) []h2Record {
	out := []h2Record{{0, len(h2Preface), len(h2Preface), 0}}
	pos := len(h2Preface)
	for _, c := range h2Calls {
		if legacy && c.sys == "writev" {
			out = append(out, h2Record{pos, c.size, capture, 0})
			pos += c.size
			continue
		}
		done := 0
		for k := uint16(0); done < c.size; k++ {
			span := min(c.size-done, event.MaxCaptureBytes)
			if k == 7 {
				span = c.size - done
			}
			out = append(out, h2Record{pos + done, span, min(span, event.MaxCaptureBytes), k})
			done += span
		}
		pos += c.size
	}
	return out
}

// TestHTTP2WholeCopy traces a connection that opens with HTTP/2's client
// preface, with each object the kernel loads: every call is sent as
// consecutive records at consecutive positions, parts numbered from 0 in
// each call, their bytes the stream's; a call past eight records is
// counted in h2_cut, and so, in the legacy object, is a vector call past
// capture bytes.
func TestHTTP2WholeCopy(t *testing.T) {
	host, plan := kernelPlan(t)
	objects := []bool{true}
	if !bpfobj.NeedsLegacy(host.Release) {
		objects = []bool{false, true}
	}
	for _, legacy := range objects {
		t.Run(map[bool]string{false: "current", true: "legacy"}[legacy], func(t *testing.T) {
			c, peer, conn := dialedRole(t, "h2writer")
			const capture = 4096
			tr := openTracer(t, c.cmd.Process.Pid, plan, capture, 4<<20, legacy)
			ch := ringOf(t, tr)

			stream := h2Stream()
			c.say(t, "go")
			got := make([]byte, len(stream))
			peer.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.ReadFull(peer, got); err != nil || !bytes.Equal(got, stream) {
				t.Fatalf("the peer read %d bytes (%v), not what was sent", len(got), err)
			}
			c.expect(t, "sent")
			want := wantH2Records(legacy, capture)
			var recs []event.Data
			deadline := time.After(10 * time.Second)
			for len(recs) < len(want) {
				select {
				case raw := <-ch:
					var d event.Data
					if kind, err := event.RecordKind(raw); err != nil || kind != event.KindData {
						continue
					}
					if err := event.DecodeData(raw, &d); err != nil {
						t.Fatal(err)
					}
					if d.Conn == conn && d.Dir == event.Send {
						d.Captured = append([]byte(nil), d.Captured...)
						recs = append(recs, d)
					}
				case <-deadline:
					t.Fatalf("%d records of the connection after 10s, want %d", len(recs), len(want))
				}
			}
			for i, w := range want {
				d := recs[i]
				if int(d.Pos) != w.pos || int(d.Bytes) != w.bytes || len(d.Captured) != w.captured || d.Part != w.part || d.CapturedOff != 0 {
					t.Errorf("record %d: pos %d bytes %d captured %d part %d (off %d), want pos %d bytes %d captured %d part %d",
						i, d.Pos, d.Bytes, len(d.Captured), d.Part, d.CapturedOff, w.pos, w.bytes, w.captured, w.part)
					continue
				}
				if !bytes.Equal(d.Captured, stream[w.pos:w.pos+w.captured]) {
					t.Errorf("record %d (pos %d): its bytes are not the stream's", i, w.pos)
				}
			}
			counters, err := tr.Counters()
			if err != nil {
				t.Fatal(err)
			}
			wantCut := uint64(1)
			if legacy {
				wantCut = 2
			}
			if cut := counters.BPF[event.StatH2Cut]; cut != wantCut || counters.BPF[event.StatRecordsDropped] != 0 {
				t.Errorf("h2_cut %d, want %d; records dropped %d", cut, wantCut, counters.BPF[event.StatRecordsDropped])
			}
			c.say(t, "close")
		})
	}
}
