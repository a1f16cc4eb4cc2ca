// The files a process maps, and the path through which httptrace reads
// them.

package userbin

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Mapping is one file-backed mapping of a process (a line of
// /proc/PID/maps).
type Mapping struct {
	Path  string // as the process sees it
	Inode uint64
	Exec  bool
}

// Mappings lists the file-backed mappings of process pid, each file once
// (the first of its mappings, executable if any is).
func Mappings(procRoot string, pid int) ([]Mapping, error) {
	f, err := os.Open(filepath.Join(procRoot, strconv.Itoa(pid), "maps"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Mapping
	index := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		// address perms offset dev inode path
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || !strings.HasPrefix(fields[5], "/") {
			continue
		}
		ino, err := strconv.ParseUint(fields[4], 10, 64)
		if err != nil || ino == 0 {
			continue
		}
		path := strings.Join(fields[5:], " ")
		exec := strings.Contains(fields[1], "x")
		if i, ok := index[path]; ok {
			out[i].Exec = out[i].Exec || exec
			continue
		}
		index[path] = len(out)
		out = append(out, Mapping{Path: path, Inode: ino, Exec: exec})
	}
	return out, sc.Err()
}

// HostPath is where the file a process names path is, read from outside
// its mount namespace: through /proc/PID/root, so that a container's own
// copy is the one found.
func HostPath(procRoot string, pid int, path string) string {
	return filepath.Join(procRoot, strconv.Itoa(pid), "root", path)
}

// Executable is the path of process pid's executable, from outside its
// mount namespace.
func Executable(procRoot string, pid int) string {
	return filepath.Join(procRoot, strconv.Itoa(pid), "exe")
}

// FileID names a file on the host: the device and inode a uprobe is
// attached by.
type FileID struct {
	Dev, Ino uint64
}

func (id FileID) String() string { return fmt.Sprintf("%d:%d", id.Dev, id.Ino) }

// Identify returns the FileID of the file at path.
func Identify(path string) (FileID, error) {
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		return FileID{}, err
	}
	return FileID{Dev: uint64(st.Dev), Ino: st.Ino}, nil
}
