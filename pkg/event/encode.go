package event

import "net/netip"

// EncodeData lays d out as the BPF programs send a data record (the inverse
// of DecodeData), with d.Captured as its bytes: what tests and replays feed
// the pipeline. A zero Source and Gen are written as the syscall source and
// generation 1.
func EncodeData(d *Data) []byte {
	raw := make([]byte, DataHeaderSize+len(d.Captured))
	ne.PutUint32(raw, uint32(KindData))
	ne.PutUint32(raw[dataOffPID:], d.PID)
	ne.PutUint32(raw[dataOffTID:], d.TID)
	ne.PutUint32(raw[dataOffFD:], uint32(d.FD))
	ne.PutUint64(raw[dataOffStartNs:], d.StartNs)
	ne.PutUint64(raw[dataOffEndNs:], d.EndNs)
	ne.PutUint64(raw[dataOffConn:], d.Conn)
	ne.PutUint64(raw[dataOffPos:], d.Pos)
	ne.PutUint32(raw[dataOffBytes:], d.Bytes)
	ne.PutUint32(raw[dataOffCaptured:], uint32(len(d.Captured)))
	ne.PutUint32(raw[dataOffCapturedOff:], d.CapturedOff)
	raw[dataOffDir], raw[dataOffSyscall], raw[dataOffFlags] = byte(d.Dir), byte(d.Syscall), d.Flags
	raw[dataOffSource], raw[dataOffVersion] = byte(d.Source), FormatVersion
	if d.Source == 0 {
		raw[dataOffSource] = byte(SourceSyscall)
	}
	gen := d.Gen
	if gen == 0 {
		gen = 1
	}
	ne.PutUint64(raw[dataOffGen:], gen)
	ne.PutUint64(raw[dataOffUnseen:], d.Unseen)
	ne.PutUint16(raw[dataOffPart:], d.Part)
	ne.PutUint64(raw[dataOffCgroup:], d.CgroupID)
	ne.PutUint16(raw[dataOffLocalPort:], d.Local.Port())
	ne.PutUint16(raw[dataOffPeerPort:], d.Peer.Port())
	switch {
	case d.Unix.Ino != 0:
		raw[dataOffFamily] = afUnix
		ne.PutUint64(raw[dataOffLocalAddr:], d.Unix.Ino)
		ne.PutUint32(raw[dataOffLocalAddr+8:], d.Unix.PathHash)
		ne.PutUint64(raw[dataOffPeerAddr:], d.Unix.PeerIno)
		ne.PutUint32(raw[dataOffPeerAddr+8:], d.Unix.PeerPID)
		ne.PutUint32(raw[dataOffPeerAddr+12:], d.Unix.PeerPathHash)
	case d.Local.Addr().Is4() && d.Peer.Addr().Is4():
		raw[dataOffFamily] = afInet
	default:
		raw[dataOffFamily] = afInet6
	}
	if raw[dataOffFamily] != afUnix {
		putAddr(raw[dataOffLocalAddr:dataOffLocalAddr+16], d.Local.Addr(), raw[dataOffFamily])
		putAddr(raw[dataOffPeerAddr:dataOffPeerAddr+16], d.Peer.Addr(), raw[dataOffFamily])
	}
	copy(raw[dataOffComm:dataOffComm+16], d.Comm[:])
	copy(raw[DataHeaderSize:], d.Captured)
	return raw
}

// putAddr writes a in the record's form for family: IPv4 in the first 4 bytes.
func putAddr(b []byte, a netip.Addr, family byte) {
	if family == afInet {
		v4 := a.As4()
		copy(b, v4[:])
		return
	}
	v6 := a.As16()
	copy(b, v6[:])
}

// EncodeClose lays c out as a close record.
func EncodeClose(c *Close) []byte {
	raw := make([]byte, CloseSize)
	ne.PutUint32(raw, uint32(KindClose))
	ne.PutUint32(raw[closeOffPID:], c.PID)
	ne.PutUint32(raw[closeOffTID:], c.TID)
	ne.PutUint32(raw[closeOffFD:], uint32(c.FD))
	ne.PutUint64(raw[closeOffTimestamp:], c.TimestampNs)
	ne.PutUint64(raw[closeOffConn:], c.Conn)
	ne.PutUint64(raw[closeOffGen:], c.Gen)
	ne.PutUint64(raw[closeOffEndPos:], c.EndPos[Recv])
	ne.PutUint64(raw[closeOffEndPos+8:], c.EndPos[Send])
	return raw
}
