package container

import (
	"os"
	"path/filepath"
	"testing"
)

const (
	id  = "3f1d8a6e2b9c4d7e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6"
	uid = "5b3c1e2a-9d4f-4e6b-8a7c-0f1e2d3c4b5a"
	us  = "5b3c1e2a_9d4f_4e6b_8a7c_0f1e2d3c4b5a" // the UID as systemd slices write it
	id2 = "aa1d8a6e2b9c4d7e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5bb"
	// static is a static pod's UID: the md5 of its manifest, 32 hex digits.
	static = "6f1b4c2a9e8d7c6b5a4f3e2d1c0b9a8f"
)

func TestParsePath(t *testing.T) {
	cases := []struct {
		name, path string
		want       Identity
	}{
		// containerd
		{"containerd systemd driver", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + us + ".slice/cri-containerd-" + id + ".scope",
			Identity{id, "containerd", uid}},
		{"containerd cgroupsPath form", "/kubepods-besteffort-pod" + us + ".slice:cri-containerd:" + id, Identity{id, "containerd", uid}},
		{"nerdctl systemd driver", "/system.slice/nerdctl-" + id + ".scope", Identity{id, "containerd", ""}},
		{"kind: kubelet under a cgroup root", "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod" + us +
			".slice/cri-containerd-" + id + ".scope", Identity{id, "containerd", uid}},
		{"static pod (32 hex UID)", "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + static + ".slice/cri-containerd-" + id + ".scope",
			Identity{id, "containerd", static}},
		{"static pod, cgroupfs", "/kubepods/burstable/pod" + static + "/" + id, Identity{id, "", static}},
		{"containerd ctr k8s.io namespace", "/k8s.io/" + id, Identity{id, "containerd", ""}},
		// CRI-O
		{"cri-o", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + us + ".slice/crio-" + id + ".scope",
			Identity{id, "cri-o", uid}},
		{"cri-o conmon", "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" + us + ".slice/crio-conmon-" + id + ".scope",
			Identity{}},
		// Docker
		{"docker systemd driver", "/system.slice/docker-" + id + ".scope", Identity{id, "docker", ""}},
		{"docker cgroupfs driver", "/docker/" + id, Identity{id, "docker", ""}},
		{"docker seen from another cgroup namespace", "/../" + id, Identity{id, "", ""}},
		// podman
		{"podman rootful cgroupfs", "/libpod_parent/libpod-" + id, Identity{id, "podman", ""}},
		{"podman rootful systemd", "/machine.slice/libpod-" + id + ".scope", Identity{id, "podman", ""}},
		{"podman rootless", "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + id + ".scope", Identity{id, "podman", ""}},
		{"podman process inside the container's own cgroup", "/machine.slice/libpod-" + id + ".scope/container", Identity{id, "podman", ""}},
		{"podman conmon", "/machine.slice/libpod-conmon-" + id + ".scope", Identity{}},
		{"podman --cgroups=split", "/user.slice/user-0.slice/session-1.scope/libpod-payload-" + id, Identity{id, "podman", ""}},
		{"a dying process (cgroup v2 deleted)", "/system.slice/docker-" + id + ".scope (deleted)", Identity{id, "docker", ""}},
		{"cri-o, cgroupfs driver", "/kubepods/besteffort/pod" + uid + "/crio-" + id, Identity{id, "cri-o", uid}},
		{"docker in docker", "/docker/" + id + "/docker/" + id2, Identity{id2, "docker", ""}},
		// kubelet, cgroupfs driver
		{"kubelet cgroupfs burstable", "/kubepods/burstable/pod" + uid + "/" + id, Identity{id, "", uid}},
		{"kubelet cgroupfs guaranteed", "/kubepods/pod" + uid + "/" + id, Identity{id, "", uid}},
		{"kubelet systemd guaranteed", "/kubepods.slice/kubepods-pod" + us + ".slice/cri-containerd-" + id + ".scope", Identity{id, "containerd", uid}},
		{"pod sandbox cgroup only", "/kubepods.slice/kubepods-pod" + us + ".slice", Identity{"", "", uid}},
		// the host
		{"host service", "/system.slice/nginx.service", Identity{}},
		{"host user session", "/user.slice/user-0.slice/session-3.scope", Identity{}},
		{"root", "/", Identity{}},
		{"short hex is no ID", "/docker/3f1d8a6e2b9c", Identity{}},
		{"upper-case hex is no ID", "/docker/3F1D8A6E2B9C4D7E8F0A1B2C3D4E5F60718293A4B5C6D7E8F9A0B1C2D3E4F5A6", Identity{}},
	}
	for _, tc := range cases {
		if got := ParsePath(tc.path); got != tc.want {
			t.Errorf("%s: %s\n got %+v\nwant %+v", tc.name, tc.path, got, tc.want)
		}
	}
}

func TestParseCgroup(t *testing.T) {
	cases := []struct {
		name, data string
		want       Identity
	}{
		{"v2", "0::/system.slice/docker-" + id + ".scope\n", Identity{id, "docker", ""}},
		{"v1 (podman here: every controller and 0::)", "12:pids:/libpod_parent/libpod-" + id + "\n11:memory:/libpod_parent/libpod-" + id +
			"\n1:name=systemd:/libpod_parent/libpod-" + id + "\n0::/libpod_parent/libpod-" + id + "\n", Identity{id, "podman", ""}},
		{"v1 only", "12:pids:/kubepods/besteffort/pod" + uid + "/" + id + "\n4:cpu,cpuacct:/kubepods/besteffort/pod" + uid + "/" + id + "\n",
			Identity{id, "", uid}},
		{"hybrid, systemd line first and of the host", "1:name=systemd:/user.slice/user-0.slice/session-1.scope\n3:memory:/docker/" + id + "\n0::/\n",
			Identity{id, "docker", ""}},
		{"v1 pod line first, container line later", "5:cpu:/kubepods/pod" + uid + "\n4:memory:/kubepods/pod" + uid + "/" + id + "\n",
			Identity{id, "", uid}},
		{"host", "0::/system.slice/ssh.service\n", Identity{}},
		{"empty", "", Identity{}},
		{"garbage", "no colons here\n::\n", Identity{}},
	}
	for _, tc := range cases {
		if got := ParseCgroup(tc.data); got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func FuzzParseCgroup(f *testing.F) {
	f.Add("0::/system.slice/docker-" + id + ".scope\n")
	f.Add("12:pids:/kubepods/besteffort/pod" + uid + "/" + id + "\n")
	f.Fuzz(func(t *testing.T, data string) {
		got := ParseCgroup(data)
		if got.ID != "" && !isID(got.ID) {
			t.Fatalf("ID %q is not 64 hex digits", got.ID)
		}
		if got.PodUID != "" && !isUID(got.PodUID) {
			t.Fatalf("pod UID %q is not a UUID", got.PodUID)
		}
	})
}

func TestCgroup2Mount(t *testing.T) {
	cases := []struct{ mountinfo, want string }{
		{"25 30 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n", "/sys/fs/cgroup"},
		{"30 25 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n", "/sys/fs/cgroup/unified"},
		{"50 1 0:40 / /host\\040root/cgroup rw shared:1 - cgroup2 cgroup2 rw\n", "/host root/cgroup"},
		// A cgroup namespace's view (its root is not the hierarchy's) is not taken.
		{"60 1 0:40 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", ""},
	}
	for _, tc := range cases {
		got, err := cgroup2Mount(tc.mountinfo)
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("%q: %q, %v; want %q", tc.mountinfo, got, err, tc.want)
		}
	}
}

func TestCgroupIDNotTheContainers(t *testing.T) {
	root := t.TempDir()
	for pid, cg := range map[string]string{
		"10": "0::/system.slice/containerd.service\n3:memory:/docker/" + id + "\n", // cgroupfs driver on a hybrid host
		"11": "0::/../" + id + "\n",
		"12": "0::/\n",
	} {
		if err := os.MkdirAll(filepath.Join(root, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, pid, "cgroup"), []byte(cg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, pid := range []int{10, 11, 12} {
		if cg, err := CgroupID(root, pid, id); err == nil {
			t.Errorf("pid %d: cgroup %d, want an error (not the container's own)", pid, cg)
		}
	}
}
