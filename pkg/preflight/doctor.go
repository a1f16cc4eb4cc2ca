// Doctor: every check of what httptrace needs, each said in plain words
// with what to do about it; the start-up checks are the failing ones of
// the same list.
package preflight

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/httptrace/httptrace/pkg/container"
	"github.com/httptrace/httptrace/pkg/kernel"
)

// Status is a check's verdict.
type Status uint8

const (
	OK   Status = iota // what httptrace needs is there
	Warn               // httptrace runs, with something less (named)
	Fail               // httptrace cannot run
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	}
	return "FAIL"
}

// Result is one check's finding.
type Result struct {
	Check  string // its name, e.g. "btf" or "CAP_BPF"
	Status Status
	Detail string // what was found
	Fix    string // what to do, when not OK
}

// System is where the checks look; the fields are paths so tests can point
// them at fixtures.
type System struct {
	Host         kernel.Host
	ProcRoot     string // this process's /proc
	UprobePMU    string // present when uprobes can be created through perf
	CgroupRoot   string // the cgroup hierarchy's mount point
	PerfParanoid string // kernel.perf_event_paranoid
	Lockdown     string // the kernel's lockdown mode (securityfs)
	// Memlock returns RLIMIT_MEMLOCK's soft and hard limits.
	Memlock func() (cur, max uint64, err error)
}

// DefaultSystem is this process on the running kernel.
var DefaultSystem = System{
	Host:         kernel.DefaultHost,
	ProcRoot:     "/proc",
	UprobePMU:    "/sys/bus/event_source/devices/uprobe/type",
	CgroupRoot:   "/sys/fs/cgroup",
	PerfParanoid: "/proc/sys/kernel/perf_event_paranoid",
	Lockdown:     "/sys/kernel/security/lockdown",
	Memlock: func() (uint64, uint64, error) {
		var lim unix.Rlimit
		err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &lim)
		return lim.Cur, lim.Max, err
	},
}

// DeploymentCapabilities are the capabilities a container of httptrace is
// granted (deploy/kubernetes, the image's test): every one the doctor
// checks but CAP_SYS_ADMIN, which only mounts tracefs, and a deployment
// mounts the host's. CAP_SYS_RESOURCE is used before 5.11 only.
func DeploymentCapabilities() []string {
	return []string{"CAP_BPF", "CAP_PERFMON", "CAP_SYS_PTRACE", "CAP_DAC_READ_SEARCH", "CAP_SYS_RESOURCE"}
}

// DeploymentMounts are the host paths a container of httptrace mounts:
// tracefs (which it may not mount itself), the cgroup hierarchy and the
// directory of containerd's socket (ContainerdDir), whose API names the
// containers and pods.
func (s System) DeploymentMounts() []string {
	return []string{s.Host.Tracefs, s.CgroupRoot, ContainerdDir}
}

// ContainerdDir holds containerd's API socket.
var ContainerdDir = filepath.Dir(container.ContainerdSocket)

// Doctor runs every check and returns their results, in a fixed order.
func Doctor(s System) []Result {
	caps, capErr := effectiveCaps(s.ProcRoot)
	tracefs, readable := s.tracefsState()
	out := []Result{s.kernelRelease(), s.btf(), s.lockdown(), s.pidNamespace(), s.userNamespace()}
	out = append(out, s.capabilities(caps, capErr, tracefs)...)
	return append(out, s.tracefs(caps, tracefs, readable), s.tracepoints(readable), s.kprobes(readable), s.uprobes(),
		s.memlock(caps), s.perfParanoid(caps), s.Seccomp(), s.cgroups())
}

// Failed returns the names of the checks that failed.
func Failed(results []Result) []string {
	var names []string
	for _, r := range results {
		if r.Status == Fail {
			names = append(names, r.Check)
		}
	}
	return names
}

func ok(check, detail string) Result { return Result{Check: check, Status: OK, Detail: detail} }

func (s System) kernelRelease() Result {
	r := s.Host.Release
	if !kernel.AtLeast(r, 5, 10) {
		return Result{"kernel", Warn, r + ": older than 5.10, the oldest kernel httptrace is tested on",
			"use Linux 5.10 or later; if the programs load, they may still work"}
	}
	return ok("kernel", r)
}

func (s System) btf() Result {
	if err := s.Host.CheckBTF(); err != nil {
		return Result{"btf", Fail, err.Error(), "use a kernel built with CONFIG_DEBUG_INFO_BTF=y (every major distribution's since 2021)"}
	}
	return ok("btf", s.Host.BTF)
}

func (s System) pidNamespace() Result {
	return s.hostNamespace("pid_namespace", "pid", initPIDNamespace, "PID", "the kernel side sees host PIDs",
		"run in the host's PID namespace (docker or podman run --pid=host, Kubernetes hostPID: true)")
}

// initUserNamespace is the initial user namespace as /proc/PID/ns/user
// names it (PROC_USER_INIT_INO).
const initUserNamespace = "user:[4026531837]"

// userNamespace: capabilities held in another user namespace (rootless
// containers, unshare -r) count there only; bpf(), perf events and
// tracefs check them against the host's.
func (s System) userNamespace() Result {
	return s.hostNamespace("user_namespace", "user", initUserNamespace, "user", "its capabilities do not count for BPF, perf events or tracefs",
		"run in the host's user namespace (a rootful container without user namespace remapping)")
}

// hostNamespace checks that this process runs in the host's namespace of
// a kind (its /proc/self/ns link reads init); why says what another breaks.
func (s System) hostNamespace(check, link, init, kind, why, fix string) Result {
	ns, err := os.Readlink(s.ProcRoot + "/self/ns/" + link)
	switch {
	case err != nil:
		return Result{check, Fail, fmt.Sprintf("reading %s/self/ns/%s: %v", s.ProcRoot, link, err), "mount /proc"}
	case ns != init:
		return Result{check, Fail, "this process runs in a " + kind + " namespace other than the host's (" + ns + "): " + why, fix}
	}
	return ok(check, "the host's")
}

// lockdown: under lockdown=confidentiality the kernel refuses BPF's reads
// of kernel memory, which every program makes.
func (s System) lockdown() Result {
	data, err := os.ReadFile(s.Lockdown)
	if err != nil {
		return ok("lockdown", "not reported ("+s.Lockdown+" cannot be read)")
	}
	mode := string(data)
	if i, j := strings.IndexByte(mode, '['), strings.IndexByte(mode, ']'); i >= 0 && j > i {
		mode = mode[i+1 : j]
	}
	switch strings.TrimSpace(mode) {
	case "confidentiality":
		return Result{"lockdown", Fail, "lockdown=confidentiality: the kernel refuses BPF programs' reads of kernel memory",
			"boot with lockdown=integrity or none (Secure Boot's default is integrity)"}
	case "integrity":
		return ok("lockdown", "integrity (BPF may not write user memory, which httptrace never does)")
	}
	return ok("lockdown", strings.TrimSpace(mode))
}

// capabilities checks each capability httptrace uses, saying what it is for.
func (s System) capabilities(caps capSet, err error, tracefs bool) []Result {
	if err != nil {
		return []Result{{"capabilities", Fail, err.Error(), "mount /proc"}}
	}
	load := caps.mayLoadBPF()
	need := func(name string, bit uint, required bool, what, fix string) Result {
		switch {
		case caps.has(bit):
			return ok(name, "held")
		case required:
			return Result{name, Fail, "missing: " + what, fix}
		}
		return Result{name, Warn, "missing: " + what, fix}
	}
	bpfFix := "run as root, or grant CAP_BPF and CAP_PERFMON"
	bpfCap := func(name string, bit uint, what string) Result {
		if !caps.has(bit) && caps.has(capSysAdmin) {
			return ok(name, "not held, CAP_SYS_ADMIN stands for it")
		}
		return need(name, bit, !load, what, bpfFix)
	}
	out := []Result{
		bpfCap("CAP_BPF", capBPF, "loading the BPF programs and maps"),
		bpfCap("CAP_PERFMON", capPerfmon, "attaching them to tracepoints, kprobes and uprobes, and reading memory from them"),
		need("CAP_SYS_PTRACE", capSysPtrace, false,
			"tracing another user's processes: their /proc/PID/maps, root and exe (the TLS libraries to probe), and uprobes for one process", "grant CAP_SYS_PTRACE"),
		need("CAP_DAC_READ_SEARCH", capDacReadSearch, false,
			"reading files this user may not, under a traced process's /proc/PID/root (a container's TLS libraries)", "grant CAP_DAC_READ_SEARCH"),
	}
	if kernel.AtLeast(s.Host.Release, 5, 11) {
		out = append(out, ok("CAP_SYS_RESOURCE", "not needed from 5.11 (BPF memory is charged to the memory cgroup)"))
	} else {
		out = append(out, need("CAP_SYS_RESOURCE", capSysResource, false,
			"raising RLIMIT_MEMLOCK, which kernels before 5.11 charge BPF maps to (see memlock)", "grant CAP_SYS_RESOURCE, or run with ulimit -l unlimited"))
	}
	switch {
	case caps.has(capSysAdmin):
		out = append(out, ok("CAP_SYS_ADMIN", "held"))
	case !tracefs: // the tracefs check fails, naming it
		out = append(out, Result{"CAP_SYS_ADMIN", Warn, "missing: mounting tracefs, which is not mounted (see tracefs)",
			"mount tracefs beforehand (mount -t tracefs tracefs " + s.Host.Tracefs + "), or grant CAP_SYS_ADMIN"})
	default:
		out = append(out, ok("CAP_SYS_ADMIN", "not needed: tracefs is mounted"))
	}
	return out
}

// tracefsState says whether tracefs is mounted where httptrace reads it
// (by the file system's type) and whether this user may read it.
func (s System) tracefsState() (mounted, readable bool) {
	var st unix.Statfs_t
	if unix.Statfs(s.Host.Tracefs, &st) != nil || st.Type != unix.TRACEFS_MAGIC {
		return false, false
	}
	_, err := os.ReadDir(filepath.Join(s.Host.Tracefs, "events"))
	return true, err == nil
}

func (s System) tracefs(caps capSet, mounted, readable bool) Result {
	fix := "mount -t tracefs tracefs " + s.Host.Tracefs + " (in a container: mount the host's " + s.Host.Tracefs + ")"
	switch {
	case readable:
		return ok("tracefs", "mounted at "+s.Host.Tracefs)
	case mounted:
		return Result{"tracefs", Fail, "mounted at " + s.Host.Tracefs + ", but this user may not read it",
			"run as uid 0, or grant CAP_DAC_READ_SEARCH"}
	case caps.has(capSysAdmin):
		return Result{"tracefs", Warn, "not mounted at " + s.Host.Tracefs + ": httptrace mounts it when it starts", fix}
	}
	return Result{"tracefs", Fail, "not mounted at " + s.Host.Tracefs + ", and httptrace may not mount it (no CAP_SYS_ADMIN)", fix}
}

func (s System) tracepoints(readable bool) Result {
	if !readable {
		return Result{"tracepoints", Warn, "not known until tracefs can be read", "see tracefs"}
	}
	if err := s.Host.CheckTracepoint("syscalls", "sys_enter_read"); err != nil {
		return Result{"tracepoints", Warn, "no syscall tracepoints (CONFIG_FTRACE_SYSCALLS off): tracepoint mode cannot run", "use kprobe mode"}
	}
	return ok("tracepoints", "syscall tracepoints present: tracepoint mode can run")
}

func (s System) kprobes(tracefsReadable bool) Result {
	if _, err := os.Stat(s.Host.KprobePMU); err != nil {
		return Result{"kprobes", Warn, "no kprobe PMU (CONFIG_KPROBE_EVENTS off): auto picks tracepoint mode", "none needed; tracepoint mode traces the same syscalls"}
	}
	if !tracefsReadable {
		return Result{"kprobes", Warn, "kprobe PMU present; whether kprobe events can be made is not known until tracefs can be read", "see tracefs"}
	}
	if err := s.Host.KprobeSupport(); err != nil {
		return Result{"kprobes", Warn, err.Error() + ": auto picks tracepoint mode",
			"let httptrace write tracefs's kprobe_events (root's; an AppArmor profile may deny it), or use tracepoint mode"}
	}
	return ok("kprobes", "kprobe PMU present, kprobe events can be made: kprobe mode can run")
}

func (s System) uprobes() Result {
	if _, err := os.Stat(s.UprobePMU); err != nil {
		return Result{"uprobes", Warn, "no uprobe PMU (CONFIG_UPROBE_EVENTS off): HTTPS plaintext is not traced", "use a kernel with CONFIG_UPROBE_EVENTS=y"}
	}
	return ok("uprobes", "uprobe PMU present: HTTPS plaintext can be traced")
}

func (s System) memlock(caps capSet) Result {
	cur, max, err := s.Memlock()
	if err != nil {
		return Result{"memlock", Warn, "reading RLIMIT_MEMLOCK: " + err.Error(), ""}
	}
	have := "RLIMIT_MEMLOCK " + limit(cur)
	switch {
	case kernel.AtLeast(s.Host.Release, 5, 11):
		return ok("memlock", have+", not used from 5.11")
	case cur == unix.RLIM_INFINITY:
		return ok("memlock", have)
	case max == unix.RLIM_INFINITY || caps.has(capSysResource):
		return ok("memlock", have+": httptrace raises it when it starts")
	}
	// Whether the hard limit is enough shows when the maps load (bpf).
	return Result{"memlock", Warn, have + ", hard " + limit(max) + ", which kernels before 5.11 charge BPF maps to: httptrace may raise it to the hard limit only (no CAP_SYS_RESOURCE)",
		"run with ulimit -l unlimited, or grant CAP_SYS_RESOURCE"}
}

func limit(v uint64) string {
	if v == unix.RLIM_INFINITY {
		return "unlimited"
	}
	return fmt.Sprintf("%d KiB", v/1024)
}

func (s System) perfParanoid(caps capSet) Result {
	data, err := os.ReadFile(s.PerfParanoid)
	if err != nil {
		return Result{"perf_event_paranoid", Warn, "reading " + s.PerfParanoid + ": " + err.Error(), ""}
	}
	v := strings.TrimSpace(string(data))
	if caps.has(capPerfmon) || caps.has(capSysAdmin) {
		return ok("perf_event_paranoid", v+", which CAP_PERFMON overrides")
	}
	// The BPF programs need CAP_PERFMON whatever the sysctl says (see CAP_PERFMON).
	return Result{"perf_event_paranoid", Warn, v + ", and no CAP_PERFMON to override it", "grant CAP_PERFMON: lowering the sysctl does not let BPF programs attach"}
}

// SeccompUnconfined is the fix for a seccomp filter that refuses bpf() or
// perf_event_open().
const SeccompUnconfined = "run without the filter: podman or docker run --security-opt seccomp=unconfined, " +
	"Kubernetes securityContext.seccompProfile.type: Unconfined"

// LoadRefusal says why the kernel refused to load the programs with err,
// when this process's setup explains it: a seccomp filter, or (before
// 5.11) RLIMIT_MEMLOCK; "" otherwise. Doctor and start-up both say it.
func (s System) LoadRefusal(err error) string {
	if !errors.Is(err, syscall.EPERM) {
		return ""
	}
	if s.Seccomp().Status != OK {
		return "a seccomp filter applies, and container runtimes' default ones refuse this: " + SeccompUnconfined
	}
	if !kernel.AtLeast(s.Host.Release, 5, 11) {
		return "RLIMIT_MEMLOCK is too low for the maps (see memlock): run with ulimit -l unlimited, or grant CAP_SYS_RESOURCE"
	}
	return ""
}

// Seccomp says whether a seccomp filter applies to this process: the
// default profiles of container runtimes refuse bpf() and
// perf_event_open() to a process without CAP_SYS_ADMIN, whatever its
// CAP_BPF. Whether this one does shows when the programs load (bpf).
func (s System) Seccomp() Result {
	data, err := os.ReadFile(s.ProcRoot + "/self/status")
	if err != nil {
		return Result{"seccomp", Warn, "reading " + s.ProcRoot + "/self/status: " + err.Error(), "mount /proc"}
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "Seccomp:"); ok && strings.TrimSpace(v) == "2" {
			return Result{"seccomp", Warn, "a filter applies: a container runtime's default one refuses bpf() and perf_event_open() without CAP_SYS_ADMIN (see bpf)",
				SeccompUnconfined}
		}
	}
	return ok("seccomp", "no filter")
}

// initCgroupNamespace is the initial cgroup namespace as /proc/PID/ns/cgroup
// names it (CGROUP_NS_INIT_INO).
const initCgroupNamespace = "cgroup:[4026531835]"

// cgroups says which cgroup namespace and layout this process sees: a
// process's container is found from its cgroup path in /proc, which a
// cgroup namespace of its own makes relative (the container's ID is still
// in it).
func (s System) cgroups() Result {
	ns := "the host's cgroup namespace"
	if got, err := os.Readlink(s.ProcRoot + "/self/ns/cgroup"); err == nil && got != initCgroupNamespace {
		ns = "a cgroup namespace of its own (" + got + "): cgroup paths are relative to it"
	}
	var st unix.Statfs_t
	if err := unix.Statfs(s.CgroupRoot, &st); err != nil {
		return ok("cgroup", ns+"; no cgroup hierarchy at "+s.CgroupRoot)
	}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		return ok("cgroup", ns+"; v2 (unified) at "+s.CgroupRoot)
	}
	var uni unix.Statfs_t
	if unix.Statfs(filepath.Join(s.CgroupRoot, "unified"), &uni) == nil && uni.Type == unix.CGROUP2_SUPER_MAGIC {
		return ok("cgroup", ns+"; hybrid (v1 controllers, v2 at "+filepath.Join(s.CgroupRoot, "unified")+")")
	}
	return ok("cgroup", ns+"; v1 at "+s.CgroupRoot)
}
