// The maps user space writes: tracked processes and names, and skip hints.

package tracer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"syscall"
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
	t.trackMu.Lock()
	defer t.trackMu.Unlock()
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

// untrackExited untracks the tracked processes that have exited (gone from
// procRoot, or zombies).
func (t *Tracer) untrackExited(procRoot string) error {
	m, err := t.bpfMap(bpfobj.MapTrackedPIDs)
	if err != nil {
		return err
	}
	t.trackMu.Lock()
	defer t.trackMu.Unlock()
	live := t.tracked[:0]
	for _, pid := range t.tracked {
		if procs.Alive(procRoot, pid) {
			live = append(live, pid)
			continue
		}
		key := uint32(pid)
		if err := m.DeleteKey(unsafe.Pointer(&key)); err != nil && !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("untracking exited PID %d: %w", pid, err)
		}
		t.log.WithField("pid", pid).Debug("untracked a process that exited while tracking began")
	}
	t.tracked = live
	return nil
}

// TrackedPIDs are the processes user space tracked: when Open returned,
// the given PIDs, their descendants and the processes running a traced
// name; then those of TrackPIDs and TrackChildren (less those found gone
// since). Later forks and execs come as process records.
func (t *Tracer) TrackedPIDs() []int {
	t.trackMu.Lock()
	defer t.trackMu.Unlock()
	return slices.Clone(t.tracked)
}

// TrackPIDs tracks processes (not their running children) from now on:
// a selected container's processes, found running under procRoot. One
// that exited meanwhile is untracked again, so that no process reusing
// its PID is taken for it.
func (t *Tracer) TrackPIDs(pids []int, procRoot string) error {
	if err := t.trackPIDs(pids); err != nil {
		return err
	}
	return t.untrackExited(procRoot)
}

// TrackCgroup has the processes that exec in cgroup id (cgroup v2, as
// bpf_get_current_cgroup_id gives it) tracked, or no longer (track false).
func (t *Tracer) TrackCgroup(id uint64, track bool) error {
	m, err := t.bpfMap(bpfobj.MapTrackedCgroups)
	if err != nil {
		return err
	}
	if !track {
		if err := m.DeleteKey(unsafe.Pointer(&id)); err != nil && !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("untracking cgroup %d: %w", id, err)
		}
		return nil
	}
	one := uint8(1)
	if err := m.Update(unsafe.Pointer(&id), unsafe.Pointer(&one)); err != nil {
		return fmt.Errorf("tracking cgroup %d: %w", id, err)
	}
	return nil
}

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

// skipTo mirrors struct skip_to (bpf/maps.h).
type skipTo struct {
	Pos, Gen uint64
}

// selectPorts fills the ports map: server ports select listeners and
// local ports, client ports remote ports.
func (t *Tracer) selectPorts(server, client []int) error {
	if len(server)+len(client) == 0 {
		return nil
	}
	m, err := t.bpfMap(bpfobj.MapPorts)
	if err != nil {
		return err
	}
	bits := map[int]uint8{}
	for _, p := range server {
		bits[p] |= event.PortServer
	}
	for _, p := range client {
		bits[p] |= event.PortClient
	}
	for p, b := range bits {
		key := uint32(p)
		if err := m.Update(unsafe.Pointer(&key), unsafe.Pointer(&b)); err != nil {
			return fmt.Errorf("selecting port %d: %w", p, err)
		}
	}
	return nil
}

// TrackChildren tracks the descendants process pid already has: a process
// traced when it began to listen on a selected port may have forked its
// workers before (a cluster's primary listens for them). It returns the
// processes it tracked (pid among them).
func (t *Tracer) TrackChildren(pid int, procRoot string) ([]int, error) {
	all, err := procs.List(procRoot)
	if err != nil {
		return nil, err
	}
	pids := procs.Select(all, []int{pid}, nil)
	return pids, t.trackPIDs(pids)
}

// Listeners is how many processes listening on a server port were found
// running when Open ran (later ones are traced as they begin to listen).
func (t *Tracer) Listeners() int { return t.listeners }

// Legacy reports whether the object for kernels without bpf_loop is
// loaded: it copies the bytes of a transfer's first event.LegacyMaxIovecs
// iovecs only.
func (t *Tracer) Legacy() bool { return t.legacy }

// SetSkip tells the programs that the bytes of generation gen of connection
// conn (0: whichever the programs have, for a connection they have not seen
// yet) in direction dir before stream position pos need not be copied (user space knows they
// are body): a record starting before pos is sent with its copy starting
// at pos, or with nothing copied when it ends before.
func (t *Tracer) SetSkip(conn, gen uint64, dir event.Direction, pos uint64) error {
	if dir > event.Send {
		return fmt.Errorf("skip on connection %d: direction %d", conn, dir)
	}
	if err := t.markSkipsSet(); err != nil {
		return err
	}
	m, err := t.bpfMap(bpfobj.MapConnSkips)
	if err != nil {
		return err
	}
	key, val := skipKey{Conn: conn, Dir: uint32(dir)}, skipTo{Pos: pos, Gen: gen}
	if err := m.Update(unsafe.Pointer(&key), unsafe.Pointer(&val)); err != nil {
		return fmt.Errorf("skip on connection %d %s: %w", conn, dir, err)
	}
	return nil
}

// Mute tells the programs to send nothing more of generation gen of
// connection conn: it is not HTTP. The mark is one conn_skips entry per
// direction, and a program that sees either one mutes the connection in its
// conns entry and deletes both; it looks at neither again. So a program
// that mutes between the two writes leaves the second behind (until the
// close): after the second write, Mute reads the conns entry, and when it
// is muted there, takes the second back. A first mark the LRU map evicted
// instead leaves the entry unmuted and the second in place, for the next
// call in that direction to mute the connection.
func (t *Tracer) Mute(conn, gen uint64) error {
	if err := t.SetSkip(conn, gen, event.Recv, event.SkipAll); err != nil {
		return err
	}
	if muteBetween != nil {
		muteBetween()
	}
	if err := t.SetSkip(conn, gen, event.Send, event.SkipAll); err != nil {
		return err
	}
	if muted, err := t.connMuted(conn, gen); err != nil || !muted {
		return err
	}
	m, err := t.bpfMap(bpfobj.MapConnSkips)
	if err != nil {
		return err
	}
	key := skipKey{Conn: conn, Dir: uint32(event.Send)}
	if err := m.DeleteKey(unsafe.Pointer(&key)); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("mute of connection %d: %w", conn, err)
	}
	return nil
}

// What connMuted reads of struct conn (bpf/maps.h); TestMapLayouts checks
// them against the objects' BTF.
const (
	connOffGen   = 24
	connOffMuted = 82
	connSize     = 104
)

// connMuted reports whether the programs muted generation gen (0: any) of
// connection conn in its conns entry; a connection with no entry, or of
// another generation, is not.
func (t *Tracer) connMuted(conn, gen uint64) (bool, error) {
	m, err := t.bpfMap(bpfobj.MapConns)
	if err != nil {
		return false, err
	}
	v, err := m.GetValue(unsafe.Pointer(&conn))
	switch {
	case errors.Is(err, syscall.ENOENT):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("reading connection %d: %w", conn, err)
	case len(v) < connSize:
		return false, fmt.Errorf("reading connection %d: %d bytes, want %d", conn, len(v), connSize)
	}
	if gen != 0 && binary.NativeEndian.Uint64(v[connOffGen:]) != gen {
		return false, nil
	}
	return v[connOffMuted] != 0, nil
}

// muteBetween, when set, runs between Mute's two writes (tests: a program
// that mutes the connection right then).
var muteBetween func()

// ClearSkips forgets the skips of connection conn, in both directions.
func (t *Tracer) ClearSkips(conn uint64) error {
	m, err := t.bpfMap(bpfobj.MapConnSkips)
	if err != nil {
		return err
	}
	for dir := range uint32(2) {
		key := skipKey{Conn: conn, Dir: dir}
		if err := m.DeleteKey(unsafe.Pointer(&key)); err != nil && !errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("clearing skips of connection %d: %w", conn, err)
		}
	}
	return nil
}

// markSkipsSet tells the programs, before the first skip, that there are
// skips to look up; until then they skip the lookup.
func (t *Tracer) markSkipsSet() error {
	if t.skipsSet.Load() {
		return nil
	}
	m, err := t.bpfMap(bpfobj.MapSkipsSet)
	if err != nil {
		return err
	}
	var zero, one uint32 = 0, 1
	if err := m.Update(unsafe.Pointer(&zero), unsafe.Pointer(&one)); err != nil {
		return fmt.Errorf("marking skips set: %w", err)
	}
	t.skipsSet.Store(true)
	return nil
}
