package event

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// dataRecord builds a raw data record as the BPF side lays it out.
func dataRecord(family byte, bytes, capturedOff uint32, captured string, sys Syscall) []byte {
	d := Data{
		PID: 10, TID: 11, FD: 5, StartNs: 100, EndNs: 200, Conn: 4242, Gen: 9, Pos: 7, Unseen: 3, CgroupID: 77,
		Bytes: bytes, CapturedOff: capturedOff, Dir: Send, Syscall: sys, Flags: ConnAccepted,
		Local: netip.MustParseAddrPort("127.0.0.1:8080"), Peer: netip.MustParseAddrPort("127.0.0.2:50000"),
		Captured: []byte(captured),
	}
	if family == afInet6 {
		d.Local = netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), 8080)
		d.Peer = netip.AddrPortFrom(netip.IPv6Loopback(), 50000)
	}
	copy(d.Comm[:], "server")
	raw := EncodeData(&d)
	raw[dataOffFamily] = family
	return raw
}

func TestDecodeData(t *testing.T) {
	var d Data
	if err := DecodeData(dataRecord(afInet, 20, 2, "TTP/1.1", SysWritev), &d); err != nil {
		t.Fatal(err)
	}
	if d.PID != 10 || d.TID != 11 || d.FD != 5 || d.StartNs != 100 || d.EndNs != 200 || d.Conn != 4242 ||
		d.Pos != 7 || d.Gen != 9 || d.Unseen != 3 || d.CgroupID != 77 || d.Source != SourceSyscall || d.Bytes != 20 || d.CapturedOff != 2 || d.Dir != Send || d.Syscall != SysWritev ||
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

// with sets one byte of a record.
func with(raw []byte, off int, v byte) []byte {
	raw[off] = v
	return raw
}

func TestDecodeDataErrors(t *testing.T) {
	cases := []struct {
		name string
		raw  []byte
		want string
	}{
		{"short", make([]byte, DataHeaderSize-1), "shorter than"},
		{"syscall", dataRecord(afInet, 4, 0, "GET ", SysCount), "unknown syscall"},
		{"family", dataRecord(3, 4, 0, "GET ", SysRead), "address family 3"},
		{"captured over bytes", dataRecord(afInet, 4, 2, "GET ", SysRead), "captures 4 bytes at 2 of a 4-byte"},
		{"missing data", dataRecord(afInet, 4, 0, "GET ", SysRead)[:DataHeaderSize+2], "carries 2"},
		{"version", with(dataRecord(afInet, 4, 0, "GET ", SysRead), dataOffVersion, FormatVersion+1), fmt.Sprintf("format version %d", FormatVersion+1)},
		{"source", with(dataRecord(afInet, 4, 0, "GET ", SysRead), dataOffSource, 0), "unknown source 0"},
		{"unseen before 0", with(dataRecord(afInet, 4, 0, "GET ", SysRead), dataOffUnseen, 8), "8 bytes before it"},
	}
	for _, tc := range cases {
		var d Data
		if err := DecodeData(tc.raw, &d); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestDecodeCloseAndProc(t *testing.T) {
	raw := EncodeClose(&Close{PID: 3, FD: 9, Conn: 77, Gen: 5, EndPos: [2]uint64{100, 200}})
	var c Close
	if k, err := RecordKind(raw); err != nil || k != KindClose {
		t.Fatalf("kind %d, %v", k, err)
	}
	if err := DecodeClose(raw, &c); err != nil || c.PID != 3 || c.FD != 9 || c.Conn != 77 || c.Gen != 5 || c.EndPos != [2]uint64{100, 200} {
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

// TestDecodeUnix: a unix-domain record carries inode numbers and the peer
// process, not addresses.
func TestDecodeUnix(t *testing.T) {
	in := Data{PID: 1, Bytes: 3, Dir: Recv, Syscall: SysRead, Unix: UnixEnds{Ino: 123456, PeerIno: 123455, PeerPID: 77, PathHash: 5, PeerPathHash: 6},
		Captured: []byte("GET")}
	var d Data
	if err := DecodeData(EncodeData(&in), &d); err != nil {
		t.Fatal(err)
	}
	if d.Unix != in.Unix || d.Local.IsValid() || d.Peer.IsValid() {
		t.Errorf("unix %+v, local %v, peer %v", d.Unix, d.Local, d.Peer)
	}
}
