package event

import (
	"testing"

	"github.com/httptrace/httptrace/pkg/event/internal/cevent"
)

// goField is where the decoder reads a field, and how wide it takes it.
type goField struct {
	off, size uintptr
}

// goLayouts are the offsets and widths the decoder uses, per C struct and
// field; every C field must be here and every entry must be in C.
var goLayouts = map[string]map[string]goField{
	"httptrace_data": {
		"kind": {0, 4}, "pid": {dataOffPID, 4}, "tid": {dataOffTID, 4}, "fd": {dataOffFD, 4},
		"start_ns": {dataOffStartNs, 8}, "end_ns": {dataOffEndNs, 8}, "conn": {dataOffConn, 8},
		"pos": {dataOffPos, 8}, "bytes": {dataOffBytes, 4}, "captured_bytes": {dataOffCaptured, 4},
		"captured_off": {dataOffCapturedOff, 4}, "dir": {dataOffDir, 1}, "syscall": {dataOffSyscall, 1},
		"family": {dataOffFamily, 1}, "flags": {dataOffFlags, 1}, "local_port": {dataOffLocalPort, 2},
		"peer_port": {dataOffPeerPort, 2}, "source": {dataOffSource, 1}, "version": {dataOffVersion, 1},
		"part": {dataOffPart, 2}, "gen": {dataOffGen, 8}, "unseen_bytes": {dataOffUnseen, 8},
		"cgroup_id":  {dataOffCgroup, 8},
		"local_addr": {dataOffLocalAddr, 16}, "peer_addr": {dataOffPeerAddr, 16},
		"comm": {dataOffComm, 16}, "data": {DataHeaderSize, 0}, // data's size is checked below
	},
	"httptrace_close": {
		"kind": {0, 4}, "pid": {closeOffPID, 4}, "tid": {closeOffTID, 4}, "fd": {closeOffFD, 4},
		"timestamp_ns": {closeOffTimestamp, 8}, "conn": {closeOffConn, 8}, "gen": {closeOffGen, 8},
		"end_pos": {closeOffEndPos, 16},
	},
	"httptrace_proc": {
		"kind": {0, 4}, "op": {procOffOp, 4}, "pid": {procOffPID, 4}, "ppid": {procOffPPID, 4},
		"timestamp_ns": {procOffTimestamp, 8}, "comm": {procOffComm, 16},
	},
}

// TestLayoutMatchesC compares every field offset and size of the three
// record structs in bpf/event.h with what the decoder reads, and the
// structs' sizes with the Go constants (no implicit padding).
func TestLayoutMatchesC(t *testing.T) {
	cFields := cevent.Fields()
	consts := cevent.Constants()
	maxCapture := uintptr(consts["HTTPTRACE_MAX_CAPTURE_BYTES"])
	for rec, want := range goLayouts {
		got := cFields[rec]
		if len(got) != len(want) {
			t.Errorf("%s: C has %d fields, Go %d", rec, len(got), len(want))
		}
		var end uintptr
		for _, f := range got {
			w, ok := want[f.Name]
			if !ok {
				t.Errorf("%s.%s: in C, not read by Go", rec, f.Name)
				continue
			}
			if f.Name == "data" {
				w.size = maxCapture
			}
			if f.Offset != w.off || f.Size != w.size {
				t.Errorf("%s.%s: C offset %d size %d, Go offset %d size %d", rec, f.Name, f.Offset, f.Size, w.off, w.size)
			}
			if f.Offset < end {
				t.Errorf("%s.%s at %d overlaps the field before, which ends at %d", rec, f.Name, f.Offset, end)
			} else if f.Offset > end {
				t.Errorf("%s.%s at %d: %d bytes of implicit padding before it", rec, f.Name, f.Offset, f.Offset-end)
			}
			end = f.Offset + f.Size
		}
		if size := cevent.Sizes[rec]; size != end {
			t.Errorf("sizeof(struct %s) = %d, its fields end at %d (implicit tail padding)", rec, size, end)
		}
	}
	if cevent.Sizes["httptrace_close"] != CloseSize || cevent.Sizes["httptrace_proc"] != ProcSize {
		t.Errorf("close %d / proc %d bytes in C, Go CloseSize %d ProcSize %d",
			cevent.Sizes["httptrace_close"], cevent.Sizes["httptrace_proc"], CloseSize, ProcSize)
	}
	if MaxCaptureBytes != maxCapture {
		t.Errorf("MaxCaptureBytes = %d, the BPF record holds %d", MaxCaptureBytes, maxCapture)
	}
}

// TestConstantsMatchC checks every enum and macro of event.h that Go mirrors.
func TestConstantsMatchC(t *testing.T) {
	want := map[string]int64{
		"HTTPTRACE_COMM_LEN": int64(len(Data{}.Comm)), "HTTPTRACE_ADDR_LEN": 16,
		"HTTPTRACE_REC_DATA": int64(KindData), "HTTPTRACE_REC_CLOSE": int64(KindClose), "HTTPTRACE_REC_PROC": int64(KindProc),
		"HTTPTRACE_DIR_RECV": int64(Recv), "HTTPTRACE_DIR_SEND": int64(Send),
		"HTTPTRACE_CONN_ADOPTED": int64(ConnAdopted), "HTTPTRACE_CONN_ACCEPTED": int64(ConnAccepted),
		"HTTPTRACE_CONN_CONNECTED": int64(ConnConnected), "HTTPTRACE_CONN_TLS": int64(ConnTLS),
		"HTTPTRACE_PROC_TLS_MAP": int64(ProcTLSMap), "HTTPTRACE_SRC_TLS": int64(SourceTLS),
		"HTTPTRACE_PROC_FORK": int64(ProcFork), "HTTPTRACE_PROC_EXEC": int64(ProcExec), "HTTPTRACE_PROC_EXIT": int64(ProcExit),
		"HTTPTRACE_PROC_LISTEN": int64(ProcListen), "HTTPTRACE_PORT_SERVER": int64(PortServer), "HTTPTRACE_PORT_CLIENT": int64(PortClient),
		"HTTPTRACE_STAT_COUNT": int64(StatCount), "HTTPTRACE_SYS_COUNT": int64(SysCount),
		"HTTPTRACE_FORMAT_VERSION": FormatVersion, "HTTPTRACE_MAX_IOVS": MaxIovecs, "HTTPTRACE_LEGACY_MAX_IOVS": LegacyMaxIovecs, "HTTPTRACE_SRC_SYSCALL": int64(SourceSyscall),
	}
	skipAll := SkipAll
	want["HTTPTRACE_SKIP_ALL"] = int64(skipAll) // as the C table holds it, a long long
	cSyscall := map[Syscall]string{
		SysRead: "READ", SysReadv: "READV", SysRecvfrom: "RECVFROM", SysRecvmsg: "RECVMSG", SysRecvmmsg: "RECVMMSG",
		SysWrite: "WRITE", SysWritev: "WRITEV", SysSendto: "SENDTO", SysSendmsg: "SENDMSG", SysSendmmsg: "SENDMMSG",
		SysSendfile: "SENDFILE", SysTLSRead: "TLS_READ", SysTLSWrite: "TLS_WRITE",
	}
	if len(cSyscall) != int(SysCount)-1 {
		t.Fatalf("test names %d syscalls, Go has %d", len(cSyscall), SysCount-1)
	}
	for s, name := range cSyscall {
		want["HTTPTRACE_SYS_"+name] = int64(s)
	}
	got := cevent.Constants()
	for name, v := range want {
		c, ok := got[name]
		if !ok || c != v {
			t.Errorf("%s: C %d (present %v), Go %d", name, c, ok, v)
		}
	}
}

// TestStatsMatchC checks every counter's index against enum httptrace_stat.
func TestStatsMatchC(t *testing.T) {
	c := cevent.Stats()
	if len(c) != int(StatCount) {
		t.Fatalf("C has %d counters, Go %d", len(c), StatCount)
	}
	for i, name := range StatNames {
		v, ok := c[name]
		if !ok || v != uint32(i) {
			t.Errorf("counter %s: Go index %d, C %d (present %v)", name, i, v, ok)
		}
	}
}
