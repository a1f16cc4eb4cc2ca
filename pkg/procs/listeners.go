// Processes listening on TCP ports, found in /proc: each network
// namespace's socket tables, then the fds that hold the listening sockets.

package procs

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// tcpListen is the state column of a listening socket in /proc/net/tcp.
const tcpListen = "0A"

// Listening returns, sorted, the processes under procRoot that hold a TCP
// socket (IPv4 or IPv6) listening on one of ports, in whatever network
// namespace they are. Processes that exit while it reads are left out.
func Listening(procRoot string, ports []int) []int {
	if len(ports) == 0 {
		return nil
	}
	want := map[int]bool{}
	for _, p := range ports {
		want[p] = true
	}
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return nil
	}
	// One read of the tables per network namespace.
	netns := map[string]bool{}
	inodes := map[string]bool{} // "socket:[N]" of the listening sockets
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		pids = append(pids, pid)
		ns, err := os.Readlink(filepath.Join(procRoot, e.Name(), "ns", "net"))
		if err != nil || netns[ns] {
			continue
		}
		netns[ns] = true
		for _, table := range []string{"tcp", "tcp6"} {
			listenInodes(filepath.Join(procRoot, e.Name(), "net", table), want, inodes)
		}
	}
	if len(inodes) == 0 {
		return nil
	}
	var out []int
	for _, pid := range pids {
		if holdsAny(filepath.Join(procRoot, strconv.Itoa(pid), "fd"), inodes) {
			out = append(out, pid)
		}
	}
	sort.Ints(out)
	return out
}

// listenInodes adds to into the sockets of one /proc/net/tcp{,6} table
// listening on a wanted port, as their fd links name them.
func listenInodes(path string, want map[int]bool, into map[string]bool) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != tcpListen {
			continue
		}
		_, port, ok := strings.Cut(fields[1], ":")
		n, err := strconv.ParseUint(port, 16, 16)
		if !ok || err != nil || !want[int(n)] {
			continue
		}
		into["socket:["+fields[9]+"]"] = true
	}
}

// holdsAny reports whether one of the fds in dir links to one of inodes.
func holdsAny(dir string, inodes map[string]bool) bool {
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(dir, fd.Name())); err == nil && inodes[target] {
			return true
		}
	}
	return false
}
