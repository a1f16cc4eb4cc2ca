// Package container finds the container and Kubernetes pod a process runs
// in, from its cgroup path: no container runtime is asked.
package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Identity is what a process's cgroup says of where it runs; the zero
// value is a process of the host.
type Identity struct {
	ID      string // the container's full ID (64 hex digits)
	Runtime string // "docker", "podman", "containerd", "cri-o", or "" when the path does not say
	PodUID  string // the Kubernetes pod's UID, when the kubelet made the cgroup
}

// runtimePrefixes are the systemd scope prefixes of each runtime's
// containers (cgroup driver systemd): <prefix><id>.scope.
var runtimePrefixes = []struct{ prefix, runtime string }{
	{"cri-containerd-", "containerd"},
	{"nerdctl-", "containerd"},
	{"libpod-payload-", "podman"}, // --cgroups=split

	{"crio-", "cri-o"},
	{"docker-", "docker"},
	{"libpod-", "podman"},
}

// notContainers are scopes of the runtimes' monitors, beside their
// containers: the process in one is not in the container.
var notContainers = []string{"crio-conmon-", "libpod-conmon-"}

// runtimeParents are the cgroupfs driver's parents of a bare ID.
var runtimeParents = map[string]string{
	"docker":        "docker",
	"libpod_parent": "podman",
	"k8s.io":        "containerd", // containerd's own k8s.io namespace (ctr -n k8s.io)
}

// ParseCgroup reads /proc/PID/cgroup's contents: cgroup v2's "0::PATH"
// line when it names a container, else the first v1 line that does.
func ParseCgroup(data string) Identity {
	var v1 Identity
	for _, line := range strings.Split(data, "\n") {
		// hierarchy-ID:controllers:path; the path may hold colons.
		h, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		controllers, path, ok := strings.Cut(rest, ":")
		if !ok {
			continue
		}
		id := ParsePath(path)
		if id.ID == "" && id.PodUID == "" {
			continue
		}
		if h == "0" && controllers == "" {
			return id
		}
		if v1.ID == "" && (id.ID != "" || v1.PodUID == "") {
			v1 = id
		}
	}
	return v1
}

// ParsePath reads one cgroup path: the innermost segment that is a
// container, and the pod around it.
func ParsePath(path string) Identity {
	// A dying process's cgroup v2 path may end " (deleted)".
	path = strings.TrimSuffix(path, " (deleted)")
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var id Identity
	for i := len(segs) - 1; i >= 0 && id.ID == ""; i-- {
		id.ID, id.Runtime = containerOf(segs[i])
		if id.ID != "" && id.Runtime == "" && i > 0 {
			id.Runtime = runtimeParents[segs[i-1]]
		}
		if id.ID == "" && isMonitor(segs[i]) {
			return Identity{} // a runtime's monitor, outside its container
		}
	}
	for _, s := range segs {
		if uid := podUIDOf(s); uid != "" {
			id.PodUID = uid
		}
	}
	return id
}

// containerOf reads a segment that names a container: <prefix><id>.scope
// (systemd driver), a bare ID (cgroupfs driver), or containerd's
// systemd cgroupsPath form "<slice>:cri-containerd:<id>".
func containerOf(seg string) (id, runtime string) {
	if _, after, ok := strings.Cut(seg, ":cri-containerd:"); ok && isID(after) {
		return after, "containerd"
	}
	if isMonitor(seg) {
		return "", ""
	}
	name := strings.TrimSuffix(seg, ".scope")
	for _, p := range runtimePrefixes {
		if rest, ok := strings.CutPrefix(name, p.prefix); ok && isID(rest) {
			return rest, p.runtime
		}
	}
	if isID(seg) {
		return seg, ""
	}
	return "", ""
}

func isMonitor(seg string) bool {
	for _, p := range notContainers {
		if strings.HasPrefix(seg, p) {
			return true
		}
	}
	return false
}

// podUIDOf reads a kubelet pod segment: "pod<uid>" (cgroupfs driver) or
// "[<root>-]kubepods[-<qos>]-pod<uid with _ for ->.slice" (systemd driver;
// a Guaranteed pod has no QoS part; kind and --cgroup-root add a root),
// also as the part of containerd's "<slice>:cri-containerd:<id>" before
// the colon. A static pod's UID is 32 hex digits, others' a UUID.
func podUIDOf(seg string) string {
	seg, _, _ = strings.Cut(seg, ":")
	if name, ok := strings.CutSuffix(seg, ".slice"); ok {
		if !strings.Contains(name, "kubepods") {
			return ""
		}
		i := strings.LastIndex(name, "-pod")
		if i < 0 {
			return ""
		}
		if uid := strings.ReplaceAll(name[i+len("-pod"):], "_", "-"); isUID(uid) {
			return uid
		}
		return ""
	}
	if uid, ok := strings.CutPrefix(seg, "pod"); ok && isUID(uid) {
		return uid
	}
	return ""
}

// isID says whether s is a container ID: 64 lowercase hex digits.
func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

// isUID says whether s is a pod UID: a UUID (8-4-4-4-12 lowercase hex
// digits), or a static pod's 32 hex digits.
func isUID(s string) bool {
	if len(s) == 32 {
		for i := 0; i < len(s); i++ {
			if !isHex(s[i]) {
				return false
			}
		}
		return true
	}
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// CgroupID is the id of the cgroup v2 of process pid, which runs in
// container id (what bpf_get_current_cgroup_id returns in it): the inode
// number of its directory in the cgroup2 file system. An error when the
// process has no cgroup v2 that is its container's own: a v1-only host, a
// runtime that leaves the unified hierarchy to its daemon's cgroup (shared
// with other containers), or a path relative to a cgroup namespace.
func CgroupID(procRoot string, pid int, id string) (uint64, error) {
	data, err := os.ReadFile(fmt.Sprintf("%s/%d/cgroup", procRoot, pid))
	if err != nil {
		return 0, err
	}
	path := ""
	for _, line := range strings.Split(string(data), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			path = p
		}
	}
	if path == "" || strings.HasPrefix(path, "/..") || ParsePath(path).ID != id {
		return 0, fmt.Errorf("process %d's cgroup v2 (%q) is not its container's own", pid, path)
	}
	info, err := os.ReadFile(procRoot + "/self/mountinfo")
	if err != nil {
		return 0, err
	}
	mount, err := cgroup2Mount(string(info))
	if err != nil {
		return 0, err
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(mount, path), &st); err != nil {
		return 0, fmt.Errorf("process %d's cgroup: %w", pid, err)
	}
	return st.Ino, nil
}

// cgroup2Mount is where the cgroup2 file system is mounted whole (the
// unified hierarchy of a hybrid layout included), from a mountinfo.
func cgroup2Mount(mountinfo string) (string, error) {
	for _, line := range strings.Split(mountinfo, "\n") {
		// ID parent major:minor root mountpoint options [optional...] - fstype source super
		pre, post, ok := strings.Cut(line, " - ")
		f := strings.Fields(pre)
		if !ok || len(f) < 5 || !strings.HasPrefix(post, "cgroup2 ") || f[3] != "/" {
			continue
		}
		return unescapeMount(f[4]), nil
	}
	return "", errors.New("cgroup2 is not mounted here")
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
