// Waiting for the kernel's wakeup: epoll on the map fd plus an eventfd for Wake.
package ringbuf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/sys/unix"
)

// openWait creates the epoll instance watching the map fd, which the kernel
// makes readable when it wakes consumers, and the eventfd Wake writes to.
func (r *Reader) openWait(mapFD int) error {
	var err error
	if r.epollFD, err = unix.EpollCreate1(unix.EPOLL_CLOEXEC); err != nil {
		return fmt.Errorf("creating epoll: %w", err)
	}
	if r.eventFD, err = unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK); err != nil {
		return fmt.Errorf("creating eventfd: %w", err)
	}
	// The map fd is edge-triggered: level-triggered, it would stay ready
	// after one wakeup for as long as records keep coming, and Wait would
	// stop waiting for the timer while the kernel writes without wakeup.
	for _, ev := range []unix.EpollEvent{
		{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(mapFD)},
		{Events: unix.EPOLLIN, Fd: int32(r.eventFD)},
	} {
		if err := unix.EpollCtl(r.epollFD, unix.EPOLL_CTL_ADD, int(ev.Fd), &ev); err != nil {
			return fmt.Errorf("adding fd %d to epoll: %w", ev.Fd, err)
		}
	}
	return nil
}

// Wait blocks until the kernel signals data, the timeout passes, or Wake is
// called (epoll on the map fd plus an eventfd). A negative timeout waits
// without limit; a timeout of zero only checks. It returns nil in every one
// of these cases; call Read after it either way.
//
// The kernel signals when a record is submitted without BPF_RB_NO_WAKEUP
// while the consumer has caught up with it, or with BPF_RB_FORCE_WAKEUP;
// records submitted with BPF_RB_NO_WAKEUP wait for the timeout, however many
// are pending. A signal or a Wake that comes while no Wait is blocked makes
// the next Wait return at once.
func (r *Reader) Wait(timeout time.Duration) error {
	if r.closed.Load() {
		return ErrClosed
	}
	n, err := r.epollWait(timeout)
	if err != nil {
		return fmt.Errorf("waiting for ring buffer data: %w", err)
	}
	for _, ev := range r.events[:n] {
		if int(ev.Fd) == r.eventFD {
			// Reset the counter so the next Wait blocks again.
			if _, err := unix.Read(r.eventFD, r.drain[:]); err != nil && !errors.Is(err, unix.EAGAIN) {
				return fmt.Errorf("reading ring buffer eventfd: %w", err)
			}
		}
	}
	return nil
}

// epollWait waits on the epoll instance, again for the time left when a
// signal interrupts it, so a timeout is never cut short.
func (r *Reader) epollWait(timeout time.Duration) (int, error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		n, err := unix.EpollWait(r.epollFD, r.events[:], epollTimeout(timeout))
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
		if timeout > 0 {
			if timeout = time.Until(deadline); timeout <= 0 {
				return 0, nil
			}
		}
	}
}

// epollTimeout turns a duration into epoll's milliseconds, rounding up so a
// short wait never becomes a busy poll.
func epollTimeout(d time.Duration) int {
	switch {
	case d < 0:
		return -1
	case d > math.MaxInt32*time.Millisecond:
		return math.MaxInt32
	default:
		return int((d + time.Millisecond - 1) / time.Millisecond)
	}
}

// Wake makes a blocked Wait return at once (for shutdown). Safe from another
// goroutine.
func (r *Reader) Wake() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return ErrClosed
	}
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	// EAGAIN means the counter is full: a wakeup is already pending.
	if _, err := unix.Write(r.eventFD, one[:]); err != nil && !errors.Is(err, unix.EAGAIN) {
		return fmt.Errorf("waking ring buffer reader: %w", err)
	}
	return nil
}
