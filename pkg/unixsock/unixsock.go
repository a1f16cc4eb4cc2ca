// Package unixsock names the ends of unix-domain stream connections: the
// path a socket is bound to (an accepted one shares its listener's), from
// /proc/net/unix by inode number or by the path's hash.
package unixsock

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// refreshEvery bounds how often an unknown socket rereads /proc/net/unix.
const refreshEvery = time.Second

// Paths maps socket inode numbers, and path hashes, to the paths in
// /proc/net/unix, read again when asked for one it does not know (at most
// once a second). It is not safe for concurrent use.
type Paths struct {
	file   string
	byIno  map[uint64]string
	byHash map[uint32]string
	read   time.Time
}

// NewPaths reads procRoot/net/unix when first asked.
func NewPaths(procRoot string) *Paths {
	return &Paths{file: filepath.Join(procRoot, "net", "unix")}
}

// Path is the path of socket ino, or else the path whose Hash is hash (a
// socket gone from the table by the time it is named: its listener, bound
// to the same path, is still there): "" for an unnamed socket or one not
// found. Abstract names start with "@".
func (p *Paths) Path(ino uint64, hash uint32) string {
	if ino == 0 && hash == 0 {
		return ""
	}
	if path, ok := p.find(ino, hash); ok || time.Since(p.read) < refreshEvery {
		return path
	}
	p.reload()
	path, _ := p.find(ino, hash)
	return path
}

func (p *Paths) find(ino uint64, hash uint32) (string, bool) {
	if path, ok := p.byIno[ino]; ok && ino != 0 {
		return path, true
	}
	path, ok := p.byHash[hash]
	return path, ok && hash != 0
}

// reload reads the table again; on error the old one stays.
func (p *Paths) reload() {
	p.read = time.Now()
	data, err := os.ReadFile(p.file)
	if err != nil {
		return
	}
	p.byIno = Parse(data)
	p.byHash = make(map[uint32]string, len(p.byIno))
	for _, path := range p.byIno {
		p.byHash[Hash(path)] = path
	}
}

// Hash is the 32-bit FNV-1a hash of a path as /proc/net/unix prints it,
// the hash the kernel side sends (unix_path_hash in bpf/conn.h).
func Hash(path string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(path); i++ {
		h ^= uint32(path[i])
		h *= 16777619
	}
	return h
}

// Parse reads /proc/net/unix: "Num RefCount Protocol Flags Type St Inode
// [Path]" per line after the header, keeping sockets that have a path.
func Parse(data []byte) map[uint64]string {
	out := map[uint64]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		f := bytes.Fields(sc.Bytes())
		if len(f) < 8 {
			continue
		}
		ino, err := strconv.ParseUint(string(f[6]), 10, 64)
		if err != nil {
			continue
		}
		out[ino] = string(bytes.Join(f[7:], []byte(" ")))
	}
	return out
}
