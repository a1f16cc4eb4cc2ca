// Package preflight checks, before anything is loaded, that this process and
// kernel can run httptrace, and prepares what it may (tracefs, memlock).
package preflight

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/httptrace/httptrace/pkg/kernel"
)

// ProcRoot is where the process checks read /proc; a variable so tests can
// point it elsewhere. Kernel facts come from kernel.DefaultHost.
var ProcRoot = "/proc"

// Capability bits (linux/capability.h).
const (
	capSysAdmin = 21
	capPerfmon  = 38
	capBPF      = 39
)

// Capabilities confirms the process may load BPF programs and open perf
// events: CAP_SYS_ADMIN, or CAP_BPF with CAP_PERFMON.
func Capabilities() error {
	data, err := os.ReadFile(ProcRoot + "/self/status")
	if err != nil {
		return fmt.Errorf("reading capabilities: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		hex, ok := strings.CutPrefix(line, "CapEff:")
		if !ok {
			continue
		}
		eff, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64)
		if err != nil {
			return fmt.Errorf("parsing CapEff %q: %w", hex, err)
		}
		has := func(bit uint) bool { return eff&(1<<bit) != 0 }
		if has(capSysAdmin) || (has(capBPF) && has(capPerfmon)) {
			return nil
		}
		return errors.New("not permitted to load BPF programs: run as root (or with CAP_BPF and CAP_PERFMON)")
	}
	return errors.New("no CapEff line in /proc/self/status")
}

// initPIDNamespace is the initial PID namespace as /proc/PID/ns/pid names
// it: its inode number is PROC_PID_INIT_INO on every kernel.
const initPIDNamespace = "pid:[4026531836]"

// PIDNamespace confirms this process runs in the host's (initial) PID
// namespace: the BPF programs see host PIDs, so the processes it scans and
// the PIDs it is given must be host PIDs too.
func PIDNamespace() error {
	ns, err := os.Readlink(ProcRoot + "/self/ns/pid")
	if err != nil {
		return fmt.Errorf("reading this process's PID namespace: %w", err)
	}
	if ns != initPIDNamespace {
		return errors.New("running in a PID namespace other than the host's, but the kernel side sees host PIDs: " +
			"run httptrace in the host's PID namespace (docker or podman run --pid=host, Kubernetes hostPID: true)")
	}
	return nil
}

// BTF confirms the running kernel publishes its BTF, which CO-RE relocation needs.
func BTF() error {
	return kernel.DefaultHost.CheckBTF()
}

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
	if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &lim); err != nil {
		return false, fmt.Errorf("kernel %s needs a higher RLIMIT_MEMLOCK for BPF maps and raising it failed: %w (run with CAP_SYS_RESOURCE or ulimit -l unlimited)", release, err)
	}
	return true, nil
}
