// The syscalls that move bytes on a connection, one function per path.
package syscalls

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reads are the request paths, in the order the listeners are printed.
var Reads = []string{"read", "readv", "recvfrom", "recvmsg"}

// Writes are the response paths, chosen by the request path /tx/<write>/...
var Writes = []string{"write", "writev", "sendto", "sendmsg", "sendfile"}

// MoreReads and MoreWrites move bytes where counting a syscall's bytes is
// not enough: "peek" looks at each request with recv(MSG_PEEK) before it
// reads it, "splice" writes a response's body from a pipe with splice(2),
// which no hooked syscall sees, and "writev64" writes the header section as
// 63 tiny iovecs and the body as a 64th in one writev, as some caches do.
// They are served, but kept out of Reads and Writes, the paths that any
// syscall tracer (bpftrace's twin, which looks at a first iovec only, too)
// follows.
var (
	MoreReads  = []string{"peek"}
	MoreWrites = []string{"splice", "writev64"}
)

// ManyIovecs writes the response in one writev of 1024 iovecs, the most
// the kernel takes: the header section a byte per iovec, empty iovecs
// between them, and the body last.
const ManyIovecs = "writev1024"

// AllReads and AllWrites are every path the server serves.
func AllReads() []string { return append(append([]string(nil), Reads...), MoreReads...) }
func AllWrites() []string {
	return append(append(append([]string(nil), Writes...), MoreWrites...), ManyIovecs)
}

// retry repeats a syscall interrupted by a signal (the Go runtime sends
// SIGURG to preempt goroutines, which interrupts blocking syscalls).
func retry(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if !errors.Is(err, unix.EINTR) {
			return n, err
		}
	}
}

// recv reads what the connection has into p with the named syscall; 0 at
// the end of the stream.
func recv(fd int, how string, p []byte) (int, error) {
	half := len(p) / 2
	switch how {
	case "read":
		return retry(func() (int, error) { return unix.Read(fd, p) })
	case "readv":
		// Two iovecs, so a request may straddle them.
		return retry(func() (int, error) { return unix.Readv(fd, [][]byte{p[:half], p[half:]}) })
	case "recvfrom":
		return retry(func() (int, error) {
			n, _, err := unix.Recvfrom(fd, p, 0)
			return n, err
		})
	case "recvmsg":
		return retry(func() (int, error) {
			n, _, _, _, err := unix.RecvmsgBuffers(fd, [][]byte{p[:half], p[half:]}, nil, 0)
			return n, err
		})
	case "peek":
		// Look at what waits, as a protocol sniffer does, then read it.
		n, err := retry(func() (int, error) {
			n, _, err := unix.Recvfrom(fd, p[:min(16, len(p))], unix.MSG_PEEK)
			return n, err
		})
		if err != nil || n == 0 {
			return n, err
		}
		return retry(func() (int, error) { return unix.Read(fd, p) })
	}
	return 0, fmt.Errorf("unknown read path %q", how)
}

// send writes head and body with the named path. sendfile sends the body
// from a file after writing the head with write(2), as nginx and Apache do.
func send(fd int, how string, head, body []byte) error {
	all := append(append([]byte(nil), head...), body...)
	switch how {
	case "write":
		return loop(all, func(p []byte) (int, error) { return unix.Write(fd, p) })
	case "writev":
		return loopv(head, body, func(v [][]byte) (int, error) { return unix.Writev(fd, v) })
	case "sendto":
		return loop(all, func(p []byte) (int, error) { return sendto(fd, p) })
	case "sendmsg":
		return loopv(head, body, func(v [][]byte) (int, error) { return unix.SendmsgBuffers(fd, v, nil, nil, 0) })
	case "sendfile":
		if err := loop(head, func(p []byte) (int, error) { return unix.Write(fd, p) }); err != nil {
			return err
		}
		return sendFile(fd, body)
	case "splice":
		if err := loop(head, func(p []byte) (int, error) { return unix.Write(fd, p) }); err != nil {
			return err
		}
		return splice(fd, body)
	case "writev64":
		return writevPieces(fd, append(pieces(head, 63), body))
	case ManyIovecs:
		return writevPieces(fd, spread(head, body, 1024))
	}
	return fmt.Errorf("unknown write path %q", how)
}

// sendto is sendto(2) with no address, returning the count (unix.Send drops it).
func sendto(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
	if errno != 0 {
		return int(n), errno
	}
	return int(n), nil
}

// loop writes all of p, resuming after short writes and interruptions.
func loop(p []byte, f func([]byte) (int, error)) error {
	for len(p) > 0 {
		n, err := retry(func() (int, error) { return f(p) })
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// loopv writes head and body as two buffers, resuming after short writes.
func loopv(head, body []byte, f func([][]byte) (int, error)) error {
	for len(head)+len(body) > 0 {
		var v [][]byte
		if len(head) > 0 {
			v = append(v, head)
		}
		if len(body) > 0 {
			v = append(v, body)
		}
		n, err := retry(func() (int, error) { return f(v) })
		if err != nil {
			return err
		}
		k := min(n, len(head))
		head, n = head[k:], n-k
		body = body[n:]
	}
	return nil
}

// pieces splits b into n parts of nearly equal size (fewer when b is short).
func pieces(b []byte, n int) [][]byte {
	size := max((len(b)+n-1)/n, 1)
	var out [][]byte
	for len(b) > 0 {
		k := min(size, len(b))
		out = append(out, b[:k])
		b = b[k:]
	}
	return out
}

// spread is head a byte per buffer, with empty buffers between them, then
// body: n buffers in all (head shorter than n; else head and body as two).
func spread(head, body []byte, n int) [][]byte {
	if len(head) == 0 || len(head) >= n {
		return [][]byte{head, body}
	}
	out := make([][]byte, 0, n)
	per, extra := (n-1-len(head))/len(head), (n-1-len(head))%len(head)
	for i := range head {
		out = append(out, head[i:i+1])
		k := per
		if i < extra {
			k++
		}
		for range k {
			out = append(out, head[:0])
		}
	}
	return append(out, body)
}

// writevPieces writes every buffer with writev, resuming after short writes.
func writevPieces(fd int, v [][]byte) error {
	for len(v) > 0 {
		n, err := retry(func() (int, error) { return unix.Writev(fd, v) })
		if err != nil {
			return err
		}
		for n > 0 && len(v) > 0 {
			k := min(n, len(v[0]))
			v[0], n = v[0][k:], n-k
			if len(v[0]) == 0 {
				v = v[1:]
			}
		}
	}
	return nil
}

// sendFile puts body in a temporary file and sends it with sendfile(2).
func sendFile(fd int, body []byte) error {
	f, err := os.CreateTemp("", "syscallserver-body")
	if err != nil {
		return fmt.Errorf("body file: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(body); err != nil {
		return fmt.Errorf("body file: %w", err)
	}
	var off int64
	for off < int64(len(body)) {
		if _, err := retry(func() (int, error) {
			return unix.Sendfile(fd, int(f.Fd()), &off, len(body)-int(off))
		}); err != nil {
			return fmt.Errorf("sendfile: %w", err)
		}
	}
	return nil
}

// splice sends body through a pipe with splice(2), as proxies forward
// bodies: the bytes reach the socket without passing through user memory.
func splice(fd int, body []byte) error {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return fmt.Errorf("pipe: %w", err)
	}
	defer unix.Close(p[0])
	defer unix.Close(p[1])
	for len(body) > 0 {
		n, err := retry(func() (int, error) { return unix.Write(p[1], body[:min(len(body), 32<<10)]) })
		if err != nil {
			return fmt.Errorf("filling the pipe: %w", err)
		}
		body = body[n:]
		for n > 0 {
			k, err := retry(func() (int, error) {
				k, err := unix.Splice(p[0], nil, fd, nil, n, unix.SPLICE_F_MOVE)
				return int(k), err
			})
			if err != nil {
				return fmt.Errorf("splice: %w", err)
			}
			n -= k
		}
	}
	return nil
}
