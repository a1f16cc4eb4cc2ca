// The running kernel's facts (BTF, tracefs, symbols, kprobes) behind one Host.

package kernel

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Host is the kernel httptrace runs on: its release and where its facts are
// read. The fields are paths so tests can point them at fixtures.
type Host struct {
	Release   string // e.g. 6.1.0-56-amd64
	BTF       string // the kernel's own BTF
	Tracefs   string // tracefs mount point
	Kallsyms  string // kernel symbols
	Blacklist string // kprobe blacklist (debugfs)
	KprobePMU string // present when the kernel can create kprobes through perf
}

// DefaultHost is the running kernel.
var DefaultHost = Host{
	Release:   Release(),
	BTF:       "/sys/kernel/btf/vmlinux",
	Tracefs:   "/sys/kernel/tracing",
	Kallsyms:  "/proc/kallsyms",
	Blacklist: "/sys/kernel/debug/kprobes/blacklist",
	KprobePMU: "/sys/bus/event_source/devices/kprobe/type",
}

// ErrNoKprobes is returned when the kernel was built without kprobe events.
var ErrNoKprobes = errors.New("this kernel has no kprobes (CONFIG_KPROBE_EVENTS is off: no " +
	"/sys/bus/event_source/devices/kprobe)")

// ErrKprobeEvents is returned when kprobe_events may not be written.
var ErrKprobeEvents = errors.New("kprobe events cannot be made")

// KprobeSupport returns nil when kprobes can be attached, else why not:
// the kernel has them, and tracefs's kprobe_events, where httptrace makes
// its kprobe events, may be written (an AppArmor profile or a user without
// CAP_DAC_OVERRIDE may not). It is opened to append, never truncated
// (which would remove every kprobe event), and closed unwritten.
func (h Host) KprobeSupport() error {
	if _, err := os.Stat(h.KprobePMU); err != nil {
		return ErrNoKprobes
	}
	events := filepath.Join(h.Tracefs, "kprobe_events")
	f, err := os.OpenFile(events, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrKprobeEvents, err)
	}
	return f.Close()
}

// CheckBTF confirms the kernel publishes its BTF, which CO-RE relocation needs.
func (h Host) CheckBTF() error {
	if _, err := os.Stat(h.BTF); err != nil {
		return fmt.Errorf("kernel BTF not found at %s: httptrace needs a kernel built with CONFIG_DEBUG_INFO_BTF=y", h.BTF)
	}
	return nil
}

// MountTracefs makes sure tracefs is mounted, mounting it if it is not, and
// says whether it did.
func (h Host) MountTracefs() (mounted bool, err error) {
	if _, err := os.Stat(filepath.Join(h.Tracefs, "events")); err == nil {
		return false, nil
	}
	if err := unix.Mount("tracefs", h.Tracefs, "tracefs", 0, ""); err != nil {
		return false, fmt.Errorf("tracefs is not mounted at %s and mounting it failed (%v): mount -t tracefs tracefs %s", h.Tracefs, err, h.Tracefs)
	}
	return true, nil
}

// TextSymbols reads the text symbols (t/T) of kallsyms: those named in
// wanted, or every one when wanted is nil. Kallsyms holds a few hundred
// thousand lines; keeping only the wanted few makes the read several times
// faster, which counts where every start is slow (an emulated machine).
func (h Host) TextSymbols(wanted map[string]bool) (map[string]bool, error) {
	f, err := os.Open(h.Kallsyms)
	if err != nil {
		return nil, fmt.Errorf("reading kernel symbols: %w", err)
	}
	defer f.Close()
	syms := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		// "ADDRESS TYPE NAME[\t[MODULE]]"
		line := sc.Bytes()
		i := bytes.IndexByte(line, ' ')
		if i < 0 || i+3 >= len(line) || (line[i+1] != 't' && line[i+1] != 'T') || line[i+2] != ' ' {
			continue
		}
		name := line[i+3:]
		if j := bytes.IndexAny(name, " \t"); j >= 0 {
			name = name[:j]
		}
		if wanted == nil || wanted[string(name)] {
			syms[string(name)] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading kernel symbols: %w", err)
	}
	return syms, nil
}

// KprobeBlacklist reads the functions kprobes may not attach to; a missing
// file (debugfs not mounted) gives an empty list, since attaching still
// fails cleanly then.
func (h Host) KprobeBlacklist() map[string]bool {
	out := map[string]bool{}
	data, err := os.ReadFile(h.Blacklist)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 {
			out[f[len(f)-1]] = true
		}
	}
	return out
}

// CheckTracepoint confirms a tracepoint exists under tracefs, naming similar
// ones when it does not.
func (h Host) CheckTracepoint(category, name string) error {
	dir := filepath.Join(h.Tracefs, "events", category)
	if _, err := os.Stat(filepath.Join(dir, name, "id")); err == nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(h.Tracefs, "events")); err != nil {
		return fmt.Errorf("tracefs is not mounted at %s (mount -t tracefs tracefs %s)", h.Tracefs, h.Tracefs)
	}
	msg := fmt.Sprintf("tracepoint %s:%s does not exist (%s)", category, name, dir)
	entries, _ := os.ReadDir(dir)
	have := map[string]bool{}
	for _, e := range entries {
		have[e.Name()] = true
	}
	if c := Candidates(name, have); len(c) > 0 {
		msg += "; similar: " + strings.Join(c, ", ")
	}
	return errors.New(msg)
}

// CheckRawTracepoint confirms a tracepoint of any category exists under
// tracefs (raw tracepoints are named without their category).
func (h Host) CheckRawTracepoint(name string) error {
	matches, err := filepath.Glob(filepath.Join(h.Tracefs, "events", "*", name, "id"))
	if err == nil && len(matches) > 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(h.Tracefs, "events")); err != nil {
		return fmt.Errorf("tracefs is not mounted at %s (mount -t tracefs tracefs %s)", h.Tracefs, h.Tracefs)
	}
	return fmt.Errorf("tracepoint %s does not exist in any category under %s", name, filepath.Join(h.Tracefs, "events"))
}
