package event

import (
	"bytes"
	"net/netip"
)

// Kind mirrors enum httptrace_record_kind: what a record is.
type Kind uint32

// The record kinds.
const (
	KindData  Kind = 1
	KindClose Kind = 2
	KindProc  Kind = 3
)

// Direction mirrors enum httptrace_direction, seen from the traced process.
type Direction uint8

// The directions.
const (
	Recv Direction = 0 // the process read the bytes
	Send Direction = 1 // the process wrote the bytes
)

func (d Direction) String() string {
	if d == Send {
		return "send"
	}
	return "recv"
}

// Syscall mirrors enum httptrace_syscall: what moved a data record's bytes.
type Syscall uint8

// The syscalls, in the C enum's order.
const (
	SysRead Syscall = iota + 1
	SysReadv
	SysRecvfrom
	SysRecvmsg
	SysRecvmmsg
	SysWrite
	SysWritev
	SysSendto
	SysSendmsg
	SysSendmmsg
	SysSendfile
	SysTLSRead  // a TLS library's read (SSL_read, SSL_read_ex)
	SysTLSWrite // a TLS library's write (SSL_write, SSL_write_ex)
	SysCount
)

// SyscallNames are the syscalls' names, as in logs and the probe table.
var SyscallNames = [SysCount]string{
	SysRead: "read", SysReadv: "readv", SysRecvfrom: "recvfrom", SysRecvmsg: "recvmsg",
	SysRecvmmsg: "recvmmsg", SysWrite: "write", SysWritev: "writev", SysSendto: "sendto",
	SysSendmsg: "sendmsg", SysSendmmsg: "sendmmsg", SysSendfile: "sendfile",
	SysTLSRead: "tls_read", SysTLSWrite: "tls_write",
}

func (s Syscall) String() string {
	if s > 0 && s < SysCount {
		return SyscallNames[s]
	}
	return "unknown"
}

// Source mirrors enum httptrace_source: where a data record's bytes were taken.
type Source uint8

// The sources.
const (
	SourceSyscall Source = 1 // the socket's bytes, at a socket syscall
	SourceTLS     Source = 2 // a TLS connection's plaintext, at a TLS library's read or write
)

// Conn flags mirror enum httptrace_conn_flags.
const (
	ConnAdopted   uint8 = 1 << 0 // first seen on data, not at an accept or connect
	ConnAccepted  uint8 = 1 << 1 // seen at an accept: the process is the server side
	ConnConnected uint8 = 1 << 2 // seen at a connect: the process is the client side
	ConnTLS       uint8 = 1 << 3 // its socket carries TLS records; the record's bytes are the plaintext
)

// Data is bytes a syscall moved on a TCP socket of a traced process
// (struct httptrace_data). Captured aliases the record it was decoded from:
// copy what must outlive the call that handed it over.
type Data struct {
	PID, TID    uint32
	FD          int32
	StartNs     uint64 // monotonic, at the syscall's entry
	EndNs       uint64 // monotonic, at its return
	Conn        uint64 // connection id (the socket's inode number)
	Gen         uint64 // the connection's generation: a new one is another connection
	Pos         uint64 // stream offset of the first byte moved, in this direction
	Unseen      uint64 // bytes just before Pos that moved on the socket with no record
	CgroupID    uint64 // the process's cgroup (v2) id
	Source      Source
	Bytes       uint32 // bytes moved
	CapturedOff uint32 // offset of Captured[0] from Pos
	// Part is 0 for a call's first record, k for its k-th continuation: an
	// HTTP/2 connection's call is sent whole, as records at consecutive
	// positions.
	Part        uint16
	Dir         Direction
	Syscall     Syscall
	Flags       uint8          // Conn* flags
	Local, Peer netip.AddrPort // TCP connections
	Unix        UnixEnds       // unix-domain connections (Local and Peer are not valid)
	Comm        [16]byte
	Captured    []byte
}

// UnixEnds names the ends of a unix-domain stream connection: the socket's
// inode number and its peer's (0 when the peer is gone), the peer process
// (SO_PEERCRED, 0 when not known), and the hashes of their paths (FNV-1a,
// 32 bits, of the path as /proc/net/unix prints it; 0 for none). Ino is 0
// for a TCP connection.
type UnixEnds struct {
	Ino, PeerIno           uint64
	PeerPID                uint32
	PathHash, PeerPathHash uint32
}

// Close is the last close of a connection's socket (struct httptrace_close).
type Close struct {
	PID, TID    uint32
	FD          int32
	TimestampNs uint64
	Conn        uint64
	Gen         uint64 // the connection's generation (Data.Gen)
	// EndPos is, per direction, the stream position after the last byte
	// moved, as the socket counts it (0: not known).
	EndPos [2]uint64
}

// ProcOp mirrors enum httptrace_proc_op.
type ProcOp uint32

// The process operations.
const (
	ProcFork ProcOp = 1
	ProcExec ProcOp = 2
	ProcExit ProcOp = 3
	// ProcListen: the process began to listen on a selected port and is
	// traced from now on.
	ProcListen ProcOp = 4
	// ProcTLSMap: the process mapped a TLS library executable.
	ProcTLSMap ProcOp = 5
)

// Proc is a fork, exec, exit or listen of a traced process (struct httptrace_proc).
type Proc struct {
	Op          ProcOp
	PID, PPID   uint32
	TimestampNs uint64
	Comm        [16]byte
}

// CommString is a NUL-padded process name as a string.
func CommString(c *[16]byte) string {
	if i := bytes.IndexByte(c[:], 0); i >= 0 {
		return string(c[:i])
	}
	return string(c[:])
}
