// The maps user space writes: tracked processes and names, and skip hints.

package tracer

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/httptrace/httptrace/pkg/bpfobj"
	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/procs"
)

// trackPIDs adds processes to the tracked_pids map.
func (t *Tracer) trackPIDs(pids []int) error {
	m, err := t.bpfMap(bpfobj.MapTrackedPIDs)
	if err != nil {
		return err
	}
	one := uint8(1)
	for _, pid := range pids {
		key := uint32(pid)
		if err := m.Update(unsafe.Pointer(&key), unsafe.Pointer(&one)); err != nil {
			return fmt.Errorf("tracking PID %d: %w", pid, err)
		}
		if !slices.Contains(t.tracked, pid) {
			t.tracked = append(t.tracked, pid)
		}
	}
	return nil
}

// TrackedPIDs are the processes tracked when Open returned: the given
// PIDs, their descendants and the processes running a traced name. Later
// forks and execs come as process records.
func (t *Tracer) TrackedPIDs() []int { return slices.Clone(t.tracked) }

// trackComms fills the tracked_comms map with NUL-padded names.
func (t *Tracer) trackComms(comms []string) error {
	m, err := t.bpfMap(bpfobj.MapTrackedComms)
	if err != nil {
		return err
	}
	one := uint8(1)
	for _, c := range comms {
		var key [procs.CommLen]byte
		copy(key[:], procs.Truncate(c))
		if err := m.Update(unsafe.Pointer(&key[0]), unsafe.Pointer(&one)); err != nil {
			return fmt.Errorf("tracking name %q: %w", c, err)
		}
	}
	return nil
}

// skipKey mirrors struct skip_key (bpf/maps.h).
type skipKey struct {
	Conn uint64
	Dir  uint32
	_    uint32
}

// SetSkip tells the programs that the bytes of connection conn in direction
// dir before stream position pos need not be copied (user space knows they
// are body): a record starting before pos is sent with its copy starting
// at pos, or with nothing copied when it ends before.
func (t *Tracer) SetSkip(conn uint64, dir event.Direction, pos uint64) error {
	if dir > event.Send {
		return fmt.Errorf("skip on connection %d: direction %d", conn, dir)
	}
	m, err := t.bpfMap(bpfobj.MapConnSkips)
	if err != nil {
		return err
	}
	key := skipKey{Conn: conn, Dir: uint32(dir)}
	if err := m.Update(unsafe.Pointer(&key), unsafe.Pointer(&pos)); err != nil {
		return fmt.Errorf("skip on connection %d %s: %w", conn, dir, err)
	}
	return nil
}
