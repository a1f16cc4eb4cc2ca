// Package config holds httptrace's settings: their defaults, strict YAML
// decoding with file:line errors, and validation.
package config

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/httptrace/httptrace/pkg/filter"
	"github.com/httptrace/httptrace/pkg/probes"
	"github.com/httptrace/httptrace/pkg/redact"
)

// Log formats for captured requests.
const (
	FormatText = "text"
	FormatJSON = "json"
)

// Capture size limits; the upper one is the BPF side's buffer.
const (
	MinCaptureBytes     = 64
	MaxCaptureBytes     = 16384 // HTTPTRACE_MAX_CAPTURE_BYTES in bpf/event.h
	DefaultCaptureBytes = MaxCaptureBytes
)

// Limits of the exchange settings.
const (
	MinHeaderBytes         = 1024
	MaxHeaderBytes         = 1 << 20
	DefaultMaxHeaderBytes  = 16 << 10
	MaxCaptureBodyBytes    = 64 << 10
	DefaultExchangeTimeout = 30 * time.Second
	// CommLen is the most bytes of a command name the kernel keeps (TASK_COMM_LEN - 1).
	CommLen = 15
)

// Config is everything a run needs.
type Config struct {
	PIDs []int
	// Comms selects processes by command name, running or started later.
	Comms []string
	// Containers selects containers by name or ID: their processes,
	// running or started later, also after a restart.
	Containers []string
	// Pods selects Kubernetes pods, [NAMESPACE/]NAME (no namespace: any),
	// by the labels the kubelet puts on their containers: the pods'
	// containers are selected as Containers are.
	Pods []string
	// RuntimeSocket is the container runtime's API socket ("": the first
	// of container.Sockets that answers).
	RuntimeSocket string
	// Ports selects by TCP port: the processes listening on one (now or
	// later) and their connections on it; with Filter.Side client, the
	// connections whose remote port is one.
	Ports        []int
	Attach       probes.Mode
	CaptureBytes int
	LogFormat    string
	// MaxHeaderBytes caps the header section kept per message.
	MaxHeaderBytes int
	// CaptureBodyBytes is how much of each body is kept (0: counted only).
	CaptureBodyBytes int
	// ExchangeTimeout is how long a request waits for its response before
	// it is logged as incomplete.
	ExchangeTimeout time.Duration
	// UnixSockets traces unix-domain stream sockets as well as TCP ones.
	UnixSockets bool
	// TLS traces the plaintext of TLS connections, through uprobes on the
	// TLS libraries traced processes map.
	TLS bool
	// Probes has a full plan for each concrete mode: the table's defaults
	// with what the file overrides.
	Probes map[probes.Mode]probes.Plan
	// Redact says which secrets are hidden before records are written.
	Redact redact.Options
	// Filter says which exchanges are written (all are counted).
	Filter filter.Filter
	// Metrics, Routes and Services configure the aggregation that the
	// exporters read.
	Metrics  Metrics
	Routes   Routes
	Services []Service
	// OTLP configures the export of spans (OTEL_EXPORTER_OTLP_* configure
	// what it leaves unset).
	OTLP OTLP

	// where records file:line of each key read from a file, for errors.
	where map[string]string
}

// Default is the configuration with nothing set.
func Default() Config {
	c := Config{
		Attach:          probes.ModeAuto,
		CaptureBytes:    DefaultCaptureBytes,
		LogFormat:       FormatText,
		Metrics:         Metrics{TTL: DefaultMetricsTTL},
		Routes:          Routes{MaxPerService: DefaultMaxRoutesPerService},
		MaxHeaderBytes:  DefaultMaxHeaderBytes,
		ExchangeTimeout: DefaultExchangeTimeout,
		UnixSockets:     true,
		TLS:             true,
		Probes:          map[probes.Mode]probes.Plan{},
		Redact:          redact.DefaultOptions(),
		where:           map[string]string{},
	}
	for _, m := range probes.Modes {
		c.Probes[m] = probes.DefaultPlan(m)
	}
	return c
}

// Error is a configuration problem tied to a key, and to a file and line
// when the key came from a file.
type Error struct {
	Where string // "file:line", or "" for flags and defaults
	Key   string
	Msg   string
}

func (e *Error) Error() string {
	key := printable(e.Key) // a key from a file may hold any character
	if e.Where == "" {
		return fmt.Sprintf("%s: %s", key, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Where, key, e.Msg)
}

func (c *Config) errorf(key, format string, args ...any) error {
	return &Error{Where: c.where[key], Key: key, Msg: fmt.Sprintf(format, args...)}
}

// containerName is what runtimes accept as a container's name, and IDs.
var containerName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,252}$`)

// podRef is [NAMESPACE/]NAME as Kubernetes names them: a namespace is a
// DNS label, a pod's name a DNS subdomain.
var podRef = regexp.MustCompile(`^(?:[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?/)?[a-z0-9](?:[-.a-z0-9]{0,251}[a-z0-9])?$`)

// ParsePod splits a pod selector, [NAMESPACE/]NAME ("" namespace: any).
func ParsePod(s string) (namespace, name string) {
	if ns, n, ok := strings.Cut(s, "/"); ok {
		return ns, n
	}
	return "", s
}

// SelectsContainers says whether containers or pods are selected (their
// runtime is then asked).
func (c *Config) SelectsContainers() bool { return len(c.Containers) > 0 || len(c.Pods) > 0 }

// Validate checks the settings that decoding alone cannot, naming the bad key.
// Probes are checked as they are decoded, where each has its own line.
func (c *Config) Validate() error {
	if len(c.PIDs) == 0 && len(c.Comms) == 0 && len(c.Ports) == 0 && !c.SelectsContainers() {
		return c.errorf("pids", "no process to trace: list PIDs under pids, names under comm, ports under ports, containers under containers "+
			"or pods under pods, or pass --pid, --comm, --port, --container or --pod")
	}
	seenPod := map[string]bool{}
	for _, p := range c.Pods {
		switch {
		case !podRef.MatchString(p):
			return c.errorf("pods", "%q is not a pod: [NAMESPACE/]NAME, lower-case letters, digits, - (and . in the name)", p)
		case seenPod[p]:
			return c.errorf("pods", "%q is listed twice", p)
		}
		seenPod[p] = true
	}
	seenContainer := map[string]bool{}
	for _, name := range c.Containers {
		switch {
		case !containerName.MatchString(name):
			return c.errorf("containers", "%q is not a container name or ID (letters, digits, and _ . - after the first)", name)
		case seenContainer[name]:
			return c.errorf("containers", "%q is listed twice", name)
		}
		seenContainer[name] = true
	}
	if c.RuntimeSocket != "" && !filepath.IsAbs(c.RuntimeSocket) {
		return c.errorf("runtime_socket", "%q is not an absolute path", c.RuntimeSocket)
	}
	seenPort := map[int]bool{}
	for _, p := range c.Ports {
		switch {
		case p < 1 || p > 65535:
			return c.errorf("ports", "%d is not a TCP port (want 1 to 65535)", p)
		case seenPort[p]:
			return c.errorf("ports", "port %d is listed twice", p)
		}
		seenPort[p] = true
	}
	seenComm := map[string]bool{}
	for _, name := range c.Comms {
		switch {
		case name == "":
			return c.errorf("comm", "empty command name")
		case len(name) > CommLen:
			return c.errorf("comm", "%q is longer than the %d bytes the kernel keeps of a command name", name, CommLen)
		case seenComm[name]:
			return c.errorf("comm", "%q is listed twice", name)
		}
		seenComm[name] = true
	}
	seen := map[int]bool{}
	for _, pid := range c.PIDs {
		if pid <= 0 {
			return c.errorf("pids", "PID %d is not a process ID", pid)
		}
		if seen[pid] {
			return c.errorf("pids", "PID %d is listed twice", pid)
		}
		seen[pid] = true
	}
	if err := c.validateExport(); err != nil {
		return err
	}
	switch c.Attach {
	case probes.ModeAuto, probes.ModeKprobe, probes.ModeTracepoint:
	default:
		return c.errorf("attach", "%q is not an attach mode (want auto, kprobe or tracepoint)", c.Attach)
	}
	if c.CaptureBytes < MinCaptureBytes || c.CaptureBytes > MaxCaptureBytes {
		return c.errorf("capture_bytes", "%d is out of range (%d to %d)", c.CaptureBytes, MinCaptureBytes, MaxCaptureBytes)
	}
	if c.MaxHeaderBytes < MinHeaderBytes || c.MaxHeaderBytes > MaxHeaderBytes {
		return c.errorf("max_header_bytes", "%d is out of range (%d to %d)", c.MaxHeaderBytes, MinHeaderBytes, MaxHeaderBytes)
	}
	if c.CaptureBodyBytes < 0 || c.CaptureBodyBytes > MaxCaptureBodyBytes {
		return c.errorf("capture_body_bytes", "%d is out of range (0 to %d)", c.CaptureBodyBytes, MaxCaptureBodyBytes)
	}
	if c.ExchangeTimeout < time.Second || c.ExchangeTimeout > time.Hour {
		return c.errorf("exchange_timeout", "%s is out of range (1s to 1h)", c.ExchangeTimeout)
	}
	if c.LogFormat != FormatText && c.LogFormat != FormatJSON {
		return c.errorf("log_format", "%q is not a log format (want text or json)", c.LogFormat)
	}
	return c.validateRedact()
}
