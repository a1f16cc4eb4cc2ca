// Package unixsock names the ends of unix-domain stream connections: the
// path a socket is bound to (an accepted one shares its listener's), from
// the net/unix table of the process's network namespace, by inode number or
// by the path's hash.
package unixsock

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// refreshEvery bounds how often a socket not found rereads a table.
const refreshEvery = time.Second

// Paths maps socket inode numbers, and path hashes, to the paths in each
// network namespace's unix table (/proc/PID/net/unix of a process in it),
// read again when asked for a bound socket it does not know (at most once
// a second per namespace). It is not safe for concurrent use.
type Paths struct {
	procRoot string
	byNS     map[string]*table // by the namespace's /proc/PID/ns/net link
}

// table is one namespace's unix sockets with a path.
type table struct {
	byIno  map[uint64]string
	byHash map[uint32]string
	read   time.Time
}

// NewPaths reads the tables under procRoot (normally /proc).
func NewPaths(procRoot string) *Paths {
	return &Paths{procRoot: procRoot, byNS: map[string]*table{}}
}

// Path is the path of socket ino, held by process pid, or else the path
// whose Hash is hash (a socket gone from the table by the time it is named:
// its listener, bound to the same path, is still there). "" for an unbound
// socket (hash 0: nothing to look up) or one not found. Abstract names
// start with "@".
func (p *Paths) Path(pid uint32, ino uint64, hash uint32) string {
	if hash == 0 {
		return ""
	}
	dir := filepath.Join(p.procRoot, strconv.FormatUint(uint64(pid), 10))
	ns, err := os.Readlink(filepath.Join(dir, "ns", "net"))
	if err != nil {
		return ""
	}
	t := p.byNS[ns]
	if t == nil {
		t = &table{}
		p.byNS[ns] = t
	}
	if path, ok := t.find(ino, hash); ok || time.Since(t.read) < refreshEvery {
		return path
	}
	t.reload(filepath.Join(dir, "net", "unix"))
	path, _ := t.find(ino, hash)
	return path
}

func (t *table) find(ino uint64, hash uint32) (string, bool) {
	if path, ok := t.byIno[ino]; ok {
		return path, true
	}
	path, ok := t.byHash[hash]
	return path, ok
}

// reload reads the table again; on error the old one stays.
func (t *table) reload(file string) {
	t.read = time.Now()
	data, err := os.ReadFile(file)
	if err != nil {
		return
	}
	t.byIno = Parse(data)
	t.byHash = make(map[uint32]string, len(t.byIno))
	for _, path := range t.byIno {
		t.byHash[Hash(path)] = path
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

// Parse reads a net/unix table: "Num RefCount Protocol Flags Type St Inode
// [Path]" per line after the header, keeping sockets that have a path. The
// path is the rest of the line after the inode and one space, spaces and
// all (a path with a newline in it cannot be read from this table).
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
		line := sc.Bytes()
		var field []byte
		for range 7 {
			line = bytes.TrimLeft(line, " ")
			end := bytes.IndexByte(line, ' ')
			if end < 0 {
				field, line = line, nil
				break
			}
			field, line = line[:end], line[end:]
		}
		if len(line) < 2 { // no " PATH"
			continue
		}
		ino, err := strconv.ParseUint(string(field), 10, 64)
		if err != nil {
			continue
		}
		out[ino] = string(line[1:])
	}
	return out
}
