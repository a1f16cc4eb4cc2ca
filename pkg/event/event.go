// Package event decodes the records the BPF programs send, whose layout is
// defined once in bpf/event.h and mirrored here.
package event

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// Offsets in struct httptrace_data, checked against the C definition by a test.
const (
	dataOffPID         = 4
	dataOffTID         = 8
	dataOffFD          = 12
	dataOffStartNs     = 16
	dataOffEndNs       = 24
	dataOffConn        = 32
	dataOffPos         = 40
	dataOffBytes       = 48
	dataOffCaptured    = 52
	dataOffCapturedOff = 56
	dataOffDir         = 60
	dataOffSyscall     = 61
	dataOffFamily      = 62
	dataOffFlags       = 63
	dataOffLocalPort   = 64
	dataOffPeerPort    = 66
	dataOffSource      = 68
	dataOffVersion     = 69
	dataOffPart        = 70
	dataOffGen         = 72
	dataOffUnseen      = 80
	dataOffCgroup      = 88
	dataOffLocalAddr   = 96
	dataOffPeerAddr    = 112
	dataOffComm        = 128
	// Offsets in struct httptrace_close and struct httptrace_proc.
	closeOffPID       = 4
	closeOffTID       = 8
	closeOffFD        = 12
	closeOffTimestamp = 16
	closeOffConn      = 24
	closeOffGen       = 32
	closeOffEndPos    = 40
	procOffOp         = 4
	procOffPID        = 8
	procOffPPID       = 12
	procOffTimestamp  = 16
	procOffComm       = 24
	// DataHeaderSize is offsetof(struct httptrace_data, data).
	DataHeaderSize = 144
	// CloseSize is sizeof(struct httptrace_close).
	CloseSize = 56
	// ProcSize is sizeof(struct httptrace_proc).
	ProcSize = 40
)

// FormatVersion is HTTPTRACE_FORMAT_VERSION: the record format this decoder reads.
const FormatVersion = 3

// MaxIovecs is HTTPTRACE_MAX_IOVS: the most iovecs of one vector transfer
// (the kernel's UIO_MAXIOV); the bytes of all of them are copied.
const MaxIovecs = 1024

// The bits of a ports map entry (HTTPTRACE_PORT_*): the side of a
// connection the port selects.
const (
	PortServer uint8 = 1 // the local port of connections; listeners are tracked
	PortClient uint8 = 2 // the remote port of connections
)

// SkipAll is HTTPTRACE_SKIP_ALL: the skip position that mutes a connection
// found not to be HTTP (no record of it is sent any more; StatNotHTTP
// counts its transfers).
const SkipAll = ^uint64(0)

// LegacyMaxIovecs is HTTPTRACE_LEGACY_MAX_IOVS: the most iovecs of one
// transfer whose bytes are copied on kernels without bpf_loop.
const LegacyMaxIovecs = 64

// MaxCaptureBytes is HTTPTRACE_MAX_CAPTURE_BYTES: the most bytes of one
// transfer a data record can carry.
const MaxCaptureBytes = 16384

// Address families as the kernel numbers them.
const (
	afUnix  = 1
	afInet  = 2
	afInet6 = 10
)

var ne = binary.NativeEndian

// RecordKind reads the kind every record starts with.
func RecordKind(raw []byte) (Kind, error) {
	if len(raw) < 4 {
		return 0, fmt.Errorf("record of %d bytes has no kind", len(raw))
	}
	return Kind(ne.Uint32(raw)), nil
}

// DecodeData decodes a data record into d without allocating; d.Captured
// aliases raw.
func DecodeData(raw []byte, d *Data) error {
	if len(raw) < DataHeaderSize {
		return fmt.Errorf("data record of %d bytes is shorter than its %d-byte header", len(raw), DataHeaderSize)
	}
	if v := raw[dataOffVersion]; v != FormatVersion {
		return fmt.Errorf("data record of format version %d, want %d (a BPF object of another build)", v, FormatVersion)
	}
	d.Source = Source(raw[dataOffSource])
	if d.Source != SourceSyscall && d.Source != SourceTLS {
		return fmt.Errorf("data record from unknown source %d", d.Source)
	}
	d.PID = ne.Uint32(raw[dataOffPID:])
	d.TID = ne.Uint32(raw[dataOffTID:])
	d.FD = int32(ne.Uint32(raw[dataOffFD:]))
	d.StartNs = ne.Uint64(raw[dataOffStartNs:])
	d.EndNs = ne.Uint64(raw[dataOffEndNs:])
	d.Conn = ne.Uint64(raw[dataOffConn:])
	d.Pos = ne.Uint64(raw[dataOffPos:])
	d.Gen = ne.Uint64(raw[dataOffGen:])
	d.Unseen = ne.Uint64(raw[dataOffUnseen:])
	d.Part = ne.Uint16(raw[dataOffPart:])
	d.CgroupID = ne.Uint64(raw[dataOffCgroup:])
	if d.Unseen > d.Pos {
		return fmt.Errorf("data record at position %d says %d bytes before it were not seen", d.Pos, d.Unseen)
	}
	d.Bytes = ne.Uint32(raw[dataOffBytes:])
	captured := ne.Uint32(raw[dataOffCaptured:])
	d.CapturedOff = ne.Uint32(raw[dataOffCapturedOff:])
	d.Dir = Direction(raw[dataOffDir])
	d.Syscall = Syscall(raw[dataOffSyscall])
	d.Flags = raw[dataOffFlags]
	d.Unix = UnixEnds{}
	if d.Dir > Send {
		return fmt.Errorf("data record with direction %d", d.Dir)
	}
	if d.Syscall == 0 || d.Syscall >= SysCount {
		return fmt.Errorf("data record with unknown syscall %d", d.Syscall)
	}
	if uint64(d.CapturedOff)+uint64(captured) > uint64(d.Bytes) {
		return fmt.Errorf("data record captures %d bytes at %d of a %d-byte transfer", captured, d.CapturedOff, d.Bytes)
	}
	if end := DataHeaderSize + int(captured); end > len(raw) {
		return fmt.Errorf("data record claims %d captured bytes but carries %d", captured, len(raw)-DataHeaderSize)
	}
	lport := ne.Uint16(raw[dataOffLocalPort:])
	pport := ne.Uint16(raw[dataOffPeerPort:])
	switch raw[dataOffFamily] {
	case afInet:
		d.Local = netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw[dataOffLocalAddr:dataOffLocalAddr+4])), lport)
		d.Peer = netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw[dataOffPeerAddr:dataOffPeerAddr+4])), pport)
	case afInet6:
		d.Local = netip.AddrPortFrom(netip.AddrFrom16([16]byte(raw[dataOffLocalAddr:dataOffLocalAddr+16])).Unmap(), lport)
		d.Peer = netip.AddrPortFrom(netip.AddrFrom16([16]byte(raw[dataOffPeerAddr:dataOffPeerAddr+16])).Unmap(), pport)
	case afUnix:
		d.Local, d.Peer = netip.AddrPort{}, netip.AddrPort{}
		d.Unix = UnixEnds{
			Ino:          ne.Uint64(raw[dataOffLocalAddr:]),
			PathHash:     ne.Uint32(raw[dataOffLocalAddr+8:]),
			PeerIno:      ne.Uint64(raw[dataOffPeerAddr:]),
			PeerPID:      ne.Uint32(raw[dataOffPeerAddr+8:]),
			PeerPathHash: ne.Uint32(raw[dataOffPeerAddr+12:]),
		}
	default:
		return fmt.Errorf("data record with address family %d", raw[dataOffFamily])
	}
	copy(d.Comm[:], raw[dataOffComm:dataOffComm+16])
	end := DataHeaderSize + int(captured)
	d.Captured = raw[DataHeaderSize:end:end] // no capacity past the record
	return nil
}

// DecodeClose decodes a close record.
func DecodeClose(raw []byte, c *Close) error {
	if len(raw) < CloseSize {
		return fmt.Errorf("close record of %d bytes, want %d", len(raw), CloseSize)
	}
	c.PID = ne.Uint32(raw[closeOffPID:])
	c.TID = ne.Uint32(raw[closeOffTID:])
	c.FD = int32(ne.Uint32(raw[closeOffFD:]))
	c.TimestampNs = ne.Uint64(raw[closeOffTimestamp:])
	c.Conn = ne.Uint64(raw[closeOffConn:])
	c.Gen = ne.Uint64(raw[closeOffGen:])
	c.EndPos[Recv] = ne.Uint64(raw[closeOffEndPos:])
	c.EndPos[Send] = ne.Uint64(raw[closeOffEndPos+8:])
	return nil
}

// DecodeProc decodes a process record.
func DecodeProc(raw []byte, p *Proc) error {
	if len(raw) < ProcSize {
		return fmt.Errorf("process record of %d bytes, want %d", len(raw), ProcSize)
	}
	p.Op = ProcOp(ne.Uint32(raw[procOffOp:]))
	if p.Op < ProcFork || p.Op > ProcTLSMap {
		return fmt.Errorf("process record with unknown op %d", p.Op)
	}
	p.PID = ne.Uint32(raw[procOffPID:])
	p.PPID = ne.Uint32(raw[procOffPPID:])
	p.TimestampNs = ne.Uint64(raw[procOffTimestamp:])
	copy(p.Comm[:], raw[procOffComm:procOffComm+16])
	return nil
}
