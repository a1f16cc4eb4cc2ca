// The kernel's own count of missed kprobe and kretprobe hits, from tracefs.

package tracer

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// kprobeProfilePath is tracefs's per-event hit and miss counts of kprobe events.
func (t *Tracer) kprobeProfilePath() string { return filepath.Join(t.host.Tracefs, "kprobe_profile") }

// parseKprobeProfile reads kprobe_profile ("  EVENT HITS MISSES" a line,
// events named without their group) and returns the misses of each event.
// For a kretprobe, the misses include the returns lost because all of its
// instances were in use.
func parseKprobeProfile(r io.Reader) (map[string]uint64, error) {
	missed := map[string]uint64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("kprobe_profile line %q: want event, hits and misses", sc.Text())
		}
		n, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("kprobe_profile line %q: %w", sc.Text(), err)
		}
		missed[f[0]] += n
	}
	return missed, sc.Err()
}

// kprobeMissed sums what the kernel says this process's kprobes and
// kretprobes missed; ok is false when none is attached or the kernel does
// not say for one of them.
func (t *Tracer) kprobeMissed() (missed uint64, ok bool) {
	var events []*kprobeEvent
	for _, l := range t.links {
		if l.event != nil {
			events = append(events, l.event)
		}
	}
	if len(events) == 0 {
		return 0, false
	}
	f, err := os.Open(t.kprobeProfilePath())
	if err != nil {
		t.log.WithError(err).Debug("no kernel count of kprobe misses")
		return 0, false
	}
	defer f.Close()
	byEvent, err := parseKprobeProfile(f)
	if err != nil {
		t.log.WithError(err).Debug("no kernel count of kprobe misses")
		return 0, false
	}
	for _, ev := range events {
		n, found := byEvent[ev.event]
		if !found {
			t.log.WithField("event", ev.event).Debug("kprobe_profile does not list the event")
			return 0, false
		}
		missed += n
	}
	return missed, true
}
