// Package preflight checks, before anything is loaded, that this process and
// kernel can run httptrace, and prepares what it may (tracefs, memlock).
package preflight

import (
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/httptrace/httptrace/pkg/kernel"
)

// ProcRoot is where the process checks read /proc; a variable so tests can
// point it elsewhere. Kernel facts come from kernel.DefaultHost.
var ProcRoot = "/proc"

// initPIDNamespace is the initial PID namespace as /proc/PID/ns/pid names
// it: its inode number is PROC_PID_INIT_INO on every kernel.
const initPIDNamespace = "pid:[4026531836]"

// Tracefs makes sure tracefs is mounted (at kernel.DefaultHost.Tracefs),
// mounting it if it is not, and says whether it did.
func Tracefs() (mounted bool, err error) {
	return kernel.DefaultHost.MountTracefs()
}

// Memlock raises RLIMIT_MEMLOCK where the kernel charges BPF memory to it
// (before 5.11; later kernels use memory cgroups), and says whether it did.
func Memlock(release string) (raised bool, err error) {
	if kernel.AtLeast(release, 5, 11) {
		return false, nil
	}
	lim := unix.Rlimit{Cur: unix.RLIM_INFINITY, Max: unix.RLIM_INFINITY}
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim); err == nil {
		return true, nil
	}
	// Without CAP_SYS_RESOURCE: as far as the hard limit, which may be
	// enough (whether it is shows when the maps load).
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		return false, fmt.Errorf("kernel %s charges BPF maps to RLIMIT_MEMLOCK, and reading it failed: %w", release, err)
	}
	if lim.Cur == lim.Max {
		return false, nil
	}
	lim.Cur = lim.Max
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		return false, fmt.Errorf("kernel %s charges BPF maps to RLIMIT_MEMLOCK, and raising it failed: %w (run with CAP_SYS_RESOURCE or ulimit -l unlimited)", release, err)
	}
	return true, nil
}
