// Package config holds httptrace's settings: their defaults, strict YAML
// decoding with file:line errors, and validation.
package config

import (
	"fmt"

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
	MaxCaptureBytes     = 8192 // HTTPTRACE_MAX_CAPTURE_BYTES in bpf/event.h
	DefaultCaptureBytes = 1024
)

// Config is everything a run needs.
type Config struct {
	PIDs         []int
	Attach       probes.Mode
	CaptureBytes int
	LogFormat    string
	// Probes has a full plan for each concrete mode: the table's defaults
	// with what the file overrides.
	Probes map[probes.Mode]probes.Plan
	// Redact says which secrets are hidden before records are written.
	Redact redact.Options

	// where records file:line of each key read from a file, for errors.
	where map[string]string
}

// Default is the configuration with nothing set.
func Default() Config {
	c := Config{
		Attach:       probes.ModeAuto,
		CaptureBytes: DefaultCaptureBytes,
		LogFormat:    FormatText,
		Probes:       map[probes.Mode]probes.Plan{},
		Redact:       redact.DefaultOptions(),
		where:        map[string]string{},
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
	if e.Where == "" {
		return fmt.Sprintf("%s: %s", e.Key, e.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", e.Where, e.Key, e.Msg)
}

func (c *Config) errorf(key, format string, args ...any) error {
	return &Error{Where: c.where[key], Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks the settings that decoding alone cannot, naming the bad key.
// Probes are checked as they are decoded, where each has its own line.
func (c *Config) Validate() error {
	if len(c.PIDs) == 0 {
		return c.errorf("pids", "no process to trace: list PIDs under pids or pass --pid")
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
	switch c.Attach {
	case probes.ModeAuto, probes.ModeKprobe, probes.ModeTracepoint:
	default:
		return c.errorf("attach", "%q is not an attach mode (want auto, kprobe or tracepoint)", c.Attach)
	}
	if c.CaptureBytes < MinCaptureBytes || c.CaptureBytes > MaxCaptureBytes {
		return c.errorf("capture_bytes", "%d is out of range (%d to %d)", c.CaptureBytes, MinCaptureBytes, MaxCaptureBytes)
	}
	if c.LogFormat != FormatText && c.LogFormat != FormatJSON {
		return c.errorf("log_format", "%q is not a log format (want text or json)", c.LogFormat)
	}
	return c.validateRedact()
}
