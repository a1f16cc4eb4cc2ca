package unixsock

import (
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestParse(t *testing.T) {
	data := []byte("Num       RefCount Protocol Flags    Type St Inode Path\n" +
		"00000000f4384395: 00000003 00000000 00000000 0001 03 644764\n" +
		"00000000f9645cff: 00000002 00000000 00010000 0001 01 644763 /tmp/ht  test.sock\n" +
		"00000000f9645cfe: 00000002 00000000 00010000 0001 01  44762 /tmp/short\n" +
		"0000000056f9ad7b: 00000003 00000000 00000000 0001 03 644765 @abstract\n")
	got := Parse(data)
	if len(got) != 3 || got[644763] != "/tmp/ht  test.sock" || got[44762] != "/tmp/short" || got[644765] != "@abstract" {
		t.Fatalf("parsed %v", got)
	}
}

// TestPaths: an accepted socket is named by its listener's path, the
// connecting one is unnamed.
func TestPaths(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ino := func(conn net.Conn) uint64 {
		f, err := conn.(*net.UnixConn).File()
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Ino
	}
	p := NewPaths("/proc")
	self := uint32(os.Getpid())
	if got := p.Path(self, ino(a), Hash(path)); got != path {
		t.Errorf("accepted socket: %q, want %q", got, path)
	}
	if got := p.Path(self, ino(c), 0); got != "" {
		t.Errorf("connecting socket: %q, want unnamed", got)
	}
	// A socket gone from the table is named by its path's hash.
	if got := p.Path(self, 1, Hash(path)); got != path {
		t.Errorf("by hash: %q, want %q", got, path)
	}
}

// TestHash: FNV-1a, 32 bits, as the kernel side computes it.
func TestHash(t *testing.T) {
	if Hash("") != 2166136261 || Hash("a") != 0xe40c292c {
		t.Errorf("hashes %#x %#x", Hash(""), Hash("a"))
	}
}
