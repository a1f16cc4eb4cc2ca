// Package deploy checks deploy/kubernetes against what httptrace doctor
// requires, and runs httptrace's image under podman with exactly the
// DaemonSet's security context.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/preflight"
)

const manifestPath = "../../deploy/kubernetes/httptrace.yaml"

// The parts of the manifest the tests read.
type object struct {
	Kind     string                `yaml:"kind"`
	Metadata struct{ Name string } `yaml:"metadata"`
	Data     map[string]string     `yaml:"data"`
	Spec     struct {
		Template struct {
			Metadata struct {
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podSpec struct {
	HostPID    bool `yaml:"hostPID"`
	Containers []struct {
		Name  string   `yaml:"name"`
		Image string   `yaml:"image"`
		Args  []string `yaml:"args"`
		Ports []struct {
			ContainerPort int `yaml:"containerPort"`
		} `yaml:"ports"`
		SecurityContext struct {
			Privileged               *bool `yaml:"privileged"`
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
			RunAsUser                *int  `yaml:"runAsUser"`
			Capabilities             struct {
				Drop []string `yaml:"drop"`
				Add  []string `yaml:"add"`
			} `yaml:"capabilities"`
			SeccompProfile struct {
				Type string `yaml:"type"`
			} `yaml:"seccompProfile"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"volumeMounts"`
	} `yaml:"containers"`
	Volumes []struct {
		Name      string                       `yaml:"name"`
		HostPath  *struct{ Path, Type string } `yaml:"hostPath"`
		ConfigMap *struct{ Name string }       `yaml:"configMap"`
	} `yaml:"volumes"`
}

// manifest reads the manifest's objects by kind.
func manifest(t *testing.T) map[string]object {
	t.Helper()
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]object{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var o object
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", manifestPath, err)
		}
		out[o.Kind] = o
	}
	for _, kind := range []string{"Namespace", "ConfigMap", "DaemonSet"} {
		if _, ok := out[kind]; !ok {
			t.Fatalf("%s has no %s", manifestPath, kind)
		}
	}
	return out
}

// hostMount is a host path the container mounts, where, and how (create:
// type DirectoryOrCreate, made when the host has none).
type hostMount struct {
	host, path string
	readOnly   bool
	create     bool
}

// daemonSet returns the DaemonSet's pod spec (one container) and its
// host mounts.
func daemonSet(t *testing.T) (podSpec, []hostMount) {
	t.Helper()
	spec := manifest(t)["DaemonSet"].Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("the DaemonSet has %d containers, want 1", len(spec.Containers))
	}
	var mounts []hostMount
	for _, m := range spec.Containers[0].VolumeMounts {
		for _, v := range spec.Volumes {
			if v.Name == m.Name && v.HostPath != nil {
				mounts = append(mounts, hostMount{v.HostPath.Path, m.MountPath, m.ReadOnly, v.HostPath.Type == "DirectoryOrCreate"})
			}
		}
	}
	return spec, mounts
}

// TestManifest: the DaemonSet grants exactly the capabilities httptrace
// doctor checks (but CAP_SYS_ADMIN), mounts the host paths it needs at
// the same paths, runs in the host's PID namespace, is not privileged,
// and its configuration is valid.
func TestManifest(t *testing.T) {
	objs := manifest(t)
	spec, mounts := daemonSet(t)
	c := spec.Containers[0]
	sc := c.SecurityContext
	var want []string
	for _, cp := range preflight.DeploymentCapabilities() {
		want = append(want, strings.TrimPrefix(cp, "CAP_"))
	}
	if got := slices.Sorted(slices.Values(sc.Capabilities.Add)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("capabilities added %v, httptrace doctor checks %v", sc.Capabilities.Add, want)
	}
	if !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
		t.Errorf("capabilities dropped %v, want [ALL]", sc.Capabilities.Drop)
	}
	if sc.Privileged == nil || *sc.Privileged || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("privileged %v, allowPrivilegeEscalation %v: want both false, set", sc.Privileged, sc.AllowPrivilegeEscalation)
	}
	if !sc.ReadOnlyRootFilesystem || !spec.HostPID {
		t.Errorf("readOnlyRootFilesystem %v, hostPID %v: want both true", sc.ReadOnlyRootFilesystem, spec.HostPID)
	}
	if sc.SeccompProfile.Type != "Unconfined" {
		t.Errorf("seccompProfile %q: the runtimes' default profiles refuse bpf() without CAP_SYS_ADMIN", sc.SeccompProfile.Type)
	}
	for _, need := range preflight.DefaultSystem.DeploymentMounts() {
		if !slices.ContainsFunc(mounts, func(m hostMount) bool { return m.host == need && m.path == need }) {
			t.Errorf("no host mount of %s at %s (mounts %+v)", need, need, mounts)
		}
	}
	for _, m := range mounts {
		if m.path == preflight.DefaultSystem.Host.Tracefs && m.readOnly {
			t.Errorf("tracefs mounted read-only: kprobe mode writes kprobe_events")
		}
	}

	// The configuration: -c names a key of the ConfigMap mounted there,
	// which httptrace accepts.
	i := slices.Index(c.Args, "-c")
	if i < 0 || i+1 >= len(c.Args) {
		t.Fatalf("args %v: no -c FILE", c.Args)
	}
	dir, key := filepath.Split(c.Args[i+1])
	cm := objs["ConfigMap"]
	mounted := false
	for _, m := range c.VolumeMounts {
		for _, v := range spec.Volumes {
			mounted = mounted || (v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == cm.Metadata.Name && filepath.Clean(m.MountPath) == filepath.Clean(dir))
		}
	}
	if !mounted {
		t.Errorf("-c %s: the ConfigMap %s is not mounted at %s", c.Args[i+1], cm.Metadata.Name, dir)
	}
	body, ok := cm.Data[key]
	if !ok {
		t.Fatalf("the ConfigMap has no %s", key)
	}
	if _, err := config.Parse(key, []byte(body)); err != nil {
		t.Errorf("the ConfigMap's configuration: %v", err)
	}

	// Metrics: the flag, the port and the scrape annotations agree.
	j := slices.Index(c.Args, "--metrics-addr")
	ann := objs["DaemonSet"].Spec.Template.Metadata.Annotations
	if j < 0 || j+1 >= len(c.Args) || len(c.Ports) != 1 {
		t.Fatalf("args %v, ports %v: want --metrics-addr and one port", c.Args, c.Ports)
	}
	port := c.Args[j+1][strings.LastIndex(c.Args[j+1], ":")+1:]
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != port || ann["prometheus.io/path"] != "/metrics" ||
		port != strconv.Itoa(c.Ports[0].ContainerPort) {
		t.Errorf("metrics at %s, port %d, annotations %v: want them to agree", c.Args[j+1], c.Ports[0].ContainerPort, ann)
	}
}
