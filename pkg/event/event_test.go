package event

import (
	"net/netip"
	"strings"
	"testing"
)

// dataRecord builds a raw data record as the BPF side lays it out.
func dataRecord(family byte, bytes, capturedOff uint32, captured string, sys Syscall) []byte {
	raw := make([]byte, DataHeaderSize+len(captured))
	ne.PutUint32(raw, uint32(KindData))
	ne.PutUint32(raw[dataOffPID:], 10)
	ne.PutUint32(raw[dataOffTID:], 11)
	ne.PutUint32(raw[dataOffFD:], 5)
	ne.PutUint64(raw[dataOffStartNs:], 100)
	ne.PutUint64(raw[dataOffEndNs:], 200)
	ne.PutUint64(raw[dataOffConn:], 4242)
	ne.PutUint64(raw[dataOffPos:], 7)
	ne.PutUint32(raw[dataOffBytes:], bytes)
	ne.PutUint32(raw[dataOffCaptured:], uint32(len(captured)))
	ne.PutUint32(raw[dataOffCapturedOff:], capturedOff)
	raw[dataOffDir] = byte(Send)
	raw[dataOffSyscall] = byte(sys)
	raw[dataOffFamily] = family
	raw[dataOffFlags] = ConnAccepted
	ne.PutUint16(raw[dataOffLocalPort:], 8080)
	ne.PutUint16(raw[dataOffPeerPort:], 50000)
	if family == afInet {
		copy(raw[dataOffLocalAddr:], []byte{127, 0, 0, 1})
		copy(raw[dataOffPeerAddr:], []byte{127, 0, 0, 2})
	} else {
		v6 := netip.MustParseAddr("::ffff:127.0.0.1").As16()
		copy(raw[dataOffLocalAddr:], v6[:])
		copy(raw[dataOffPeerAddr:], netip.IPv6Loopback().AsSlice())
	}
	copy(raw[dataOffComm:], "server")
	copy(raw[DataHeaderSize:], captured)
	return raw
}

func TestDecodeData(t *testing.T) {
	var d Data
	if err := DecodeData(dataRecord(afInet, 20, 2, "TTP/1.1", SysWritev), &d); err != nil {
		t.Fatal(err)
	}
	if d.PID != 10 || d.TID != 11 || d.FD != 5 || d.StartNs != 100 || d.EndNs != 200 || d.Conn != 4242 ||
		d.Pos != 7 || d.Bytes != 20 || d.CapturedOff != 2 || d.Dir != Send || d.Syscall != SysWritev ||
		d.Flags != ConnAccepted || string(d.Captured) != "TTP/1.1" || CommString(&d.Comm) != "server" ||
		d.Local.String() != "127.0.0.1:8080" || d.Peer.String() != "127.0.0.2:50000" {
		t.Errorf("decoded %+v", d)
	}
	if err := DecodeData(dataRecord(afInet6, 3, 0, "GET", SysRead), &d); err != nil {
		t.Fatal(err)
	}
	if d.Local.String() != "127.0.0.1:8080" || d.Peer.String() != "[::1]:50000" {
		t.Errorf("IPv6: local %s peer %s", d.Local, d.Peer)
	}
}

func TestDecodeDataErrors(t *testing.T) {
	cases := []struct {
		name string
		raw  []byte
		want string
	}{
		{"short", make([]byte, DataHeaderSize-1), "shorter than"},
		{"syscall", dataRecord(afInet, 4, 0, "GET ", SysCount), "unknown syscall"},
		{"family", dataRecord(1, 4, 0, "GET ", SysRead), "address family 1"},
		{"captured over bytes", dataRecord(afInet, 4, 2, "GET ", SysRead), "captures 4 bytes at 2 of a 4-byte"},
		{"missing data", dataRecord(afInet, 4, 0, "GET ", SysRead)[:DataHeaderSize+2], "carries 2"},
	}
	for _, tc := range cases {
		var d Data
		if err := DecodeData(tc.raw, &d); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestDecodeCloseAndProc(t *testing.T) {
	raw := make([]byte, CloseSize)
	ne.PutUint32(raw, uint32(KindClose))
	ne.PutUint32(raw[closeOffPID:], 3)
	ne.PutUint32(raw[closeOffFD:], 9)
	ne.PutUint64(raw[closeOffConn:], 77)
	var c Close
	if k, err := RecordKind(raw); err != nil || k != KindClose {
		t.Fatalf("kind %d, %v", k, err)
	}
	if err := DecodeClose(raw, &c); err != nil || c.PID != 3 || c.FD != 9 || c.Conn != 77 {
		t.Errorf("close %+v, %v", c, err)
	}
	if err := DecodeClose(raw[:CloseSize-1], &c); err == nil {
		t.Error("short close record decoded")
	}

	raw = make([]byte, ProcSize)
	ne.PutUint32(raw, uint32(KindProc))
	ne.PutUint32(raw[procOffOp:], uint32(ProcFork))
	ne.PutUint32(raw[procOffPID:], 20)
	ne.PutUint32(raw[procOffPPID:], 19)
	copy(raw[procOffComm:], "child")
	var p Proc
	if err := DecodeProc(raw, &p); err != nil || p.Op != ProcFork || p.PID != 20 || p.PPID != 19 || CommString(&p.Comm) != "child" {
		t.Errorf("proc %+v, %v", p, err)
	}
	ne.PutUint32(raw[procOffOp:], 9)
	if err := DecodeProc(raw, &p); err == nil {
		t.Error("proc record with op 9 decoded")
	}
	if _, err := RecordKind(raw[:3]); err == nil {
		t.Error("3-byte record has a kind")
	}
}
