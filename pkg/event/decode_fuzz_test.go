package event

import (
	"encoding/binary"
	"testing"
	"unsafe"
)

// FuzzDecode feeds arbitrary records to every decoder: none may panic, and
// a decoded data record's Captured lies inside the input, ends where the
// record says and cannot be appended into the bytes after it.
func FuzzDecode(f *testing.F) {
	for _, seed := range decodeSeeds() {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if _, err := RecordKind(raw); err != nil && len(raw) >= 4 {
			t.Fatalf("RecordKind(%d bytes): %v", len(raw), err)
		}
		var d Data
		if err := DecodeData(raw, &d); err == nil {
			checkCaptured(t, raw, &d)
		} else if d.Captured != nil {
			t.Fatalf("failed decode left Captured set: %v", err)
		}
		var c Close
		if err := DecodeClose(raw, &c); err == nil && len(raw) < CloseSize {
			t.Fatalf("close record of %d bytes decoded", len(raw))
		}
		var p Proc
		if err := DecodeProc(raw, &p); err == nil && len(raw) < ProcSize {
			t.Fatalf("process record of %d bytes decoded", len(raw))
		}
	})
}

// checkCaptured asserts Captured is raw[DataHeaderSize:][:n], with n the
// record's own count and no spare capacity.
func checkCaptured(t *testing.T, raw []byte, d *Data) {
	t.Helper()
	n := int(binary.NativeEndian.Uint32(raw[dataOffCaptured:]))
	if len(d.Captured) != n || DataHeaderSize+n > len(raw) {
		t.Fatalf("Captured has %d bytes, record says %d, input carries %d", len(d.Captured), n, len(raw)-DataHeaderSize)
	}
	if cap(d.Captured) != len(d.Captured) {
		t.Fatalf("Captured has capacity %d beyond its %d bytes", cap(d.Captured), len(d.Captured))
	}
	if n > 0 && unsafe.SliceData(d.Captured) != &raw[DataHeaderSize] {
		t.Fatal("Captured does not alias the record's data")
	}
	if uint64(d.CapturedOff)+uint64(n) > uint64(d.Bytes) {
		t.Fatalf("captured %d bytes at %d of a %d-byte transfer", n, d.CapturedOff, d.Bytes)
	}
}

// decodeSeeds are well-formed records of each kind and near misses.
func decodeSeeds() [][]byte {
	data := func(family byte, captured uint32, payload string) []byte {
		d := Data{PID: 42, Bytes: uint32(len(payload)), Dir: Send, Syscall: SysWrite, Captured: []byte(payload)}
		copy(d.Comm[:], "server")
		b := EncodeData(&d)
		ne.PutUint32(b[dataOffCaptured:], captured)
		b[dataOffFamily] = family
		return b
	}
	closeRec := make([]byte, CloseSize)
	ne.PutUint32(closeRec, uint32(KindClose))
	proc := make([]byte, ProcSize)
	ne.PutUint32(proc, uint32(KindProc))
	ne.PutUint32(proc[4:], uint32(ProcExit))
	req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	return [][]byte{
		data(afInet, uint32(len(req)), req),
		data(afInet6, uint32(len(req)), req+"padding"),
		data(afInet, uint32(len(req))+1, req), // claims more than it carries
		data(7, 0, ""),
		closeRec, proc, proc[:ProcSize-1], {1, 0, 0},
	}
}
