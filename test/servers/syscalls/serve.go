// Package syscalls is an HTTP/1.1 server on raw sockets that reads each
// request and writes each response through one chosen syscall, so the
// end-to-end tests can prove every path is traced. The read path is chosen
// by the port (a server cannot know the request before reading it), the
// write path by the request path: /tx/<write>/anything.
package syscalls

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Serve listens on one loopback port per read path, prints
// "listening read=ADDR readv=ADDR recvfrom=ADDR recvmsg=ADDR" on out, and
// serves until a listener fails.
func Serve(out io.Writer) error {
	reads := AllReads()
	fds := make([]int, len(reads))
	var addrs []string
	for i, how := range reads {
		fd, addr, err := listen()
		if err != nil {
			return fmt.Errorf("listening for %s: %w", how, err)
		}
		fds[i] = fd
		addrs = append(addrs, how+"="+addr)
	}
	fmt.Fprintf(out, "listening %s\n", strings.Join(addrs, " "))
	errs := make(chan error, len(fds))
	for i, fd := range fds {
		go func(fd int, how string) { errs <- acceptLoop(fd, how) }(fd, reads[i])
	}
	return <-errs
}

// listen opens a blocking TCP listener on a free loopback port.
func listen() (int, string, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, "", fmt.Errorf("socket: %w", err)
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return -1, "", fmt.Errorf("setsockopt: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return -1, "", fmt.Errorf("bind: %w", err)
	}
	if err := unix.Listen(fd, 128); err != nil {
		return -1, "", fmt.Errorf("listen: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return -1, "", fmt.Errorf("getsockname: %w", err)
	}
	in, ok := sa.(*unix.SockaddrInet4)
	if !ok {
		return -1, "", fmt.Errorf("getsockname: not IPv4")
	}
	return fd, fmt.Sprintf("127.0.0.1:%d", in.Port), nil
}

// acceptLoop accepts connections and serves each on its own goroutine.
func acceptLoop(lfd int, how string) error {
	for {
		var fd int
		_, err := retry(func() (int, error) {
			var err error
			fd, _, err = unix.Accept4(lfd, unix.SOCK_CLOEXEC)
			return fd, err
		})
		if err != nil {
			return fmt.Errorf("accept: %w", err)
		}
		go serveConn(fd, how)
	}
}

// request is what the server needs of a parsed request.
type request struct {
	path  string
	close bool
}

// serveConn answers every request of one connection, reading with how.
func serveConn(fd int, how string) {
	ended := false
	defer func() {
		if !ended { // an ended fd's number may already be another connection's
			unix.Close(fd)
		}
	}()
	var buf []byte
	chunk := make([]byte, 4096)
	for {
		for {
			req, n, ok := parse(buf)
			if !ok {
				break
			}
			buf = buf[n:]
			if end, ok := strings.CutPrefix(req.path, "/end/"); ok {
				end, _, _ = strings.Cut(end, "/")
				ended = true
				endConn(fd, how, end, req)
				return
			}
			if err := respond(fd, how, req); err != nil || req.close {
				return
			}
		}
		n, err := recv(fd, how, chunk)
		if err != nil || n <= 0 {
			return
		}
		buf = append(buf, chunk[:n]...)
	}
}

// parse finds one whole request (headers and a Content-Length body) at the
// start of buf and returns it with its length.
func parse(buf []byte) (request, int, bool) {
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return request{}, 0, false
	}
	lines := strings.Split(string(buf[:end]), "\r\n")
	fields := strings.Fields(lines[0])
	var req request
	if len(fields) >= 2 {
		req.path = fields[1]
	}
	size := end + 4
	for _, l := range lines[1:] {
		name, value, _ := strings.Cut(l, ":")
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length":
			n, err := strconv.Atoi(value)
			if err == nil && n > 0 {
				size += n
			}
		case "connection":
			req.close = strings.EqualFold(value, "close")
		}
	}
	if len(buf) < size {
		return request{}, 0, false
	}
	return req, size, true
}

// endConn answers /end/<end>/... with a 200 whose body runs to the close,
// then ends the connection with the named call instead of a plain
// close(2): close_range(2) over its fd, dup3(2) of /dev/null onto it, or
// (threadclose) a close(2) while another thread is blocked reading the
// socket, whose reference then outlives the close until the client closes
// (that body has a Content-Length: the client sees no end before).
func endConn(fd int, how, end string, req request) {
	body := fmt.Sprintf("rx=%s end=%s path=%s\n", how, end, req.path)
	length := ""
	if end == "threadclose" {
		length = fmt.Sprintf("Content-Length: %d\r\n", len(body))
	}
	head := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n%s"+
		"X-Server-Pid: %d\r\nX-Rx: %s\r\nX-End: %s\r\n\r\n", length, os.Getpid(), how, end)
	if err := loop([]byte(head+body), func(p []byte) (int, error) { return unix.Write(fd, p) }); err != nil {
		unix.Close(fd)
		return
	}
	switch end {
	case "dup2":
		null, err := unix.Open("/dev/null", unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Dup3(null, fd, unix.O_CLOEXEC)
			unix.Close(null)
		}
		unix.Close(fd) // /dev/null now, or the socket if dup3 failed
	case "threadclose":
		reading := make(chan struct{})
		go func() {
			runtime.LockOSThread() // a thread of its own, blocked in read(2)
			close(reading)
			var b [1]byte
			unix.Read(fd, b[:])
		}()
		<-reading
		time.Sleep(50 * time.Millisecond) // let it block
		unix.Close(fd)
	default: // close_range
		if unix.CloseRange(uint(fd), uint(fd), 0) != nil {
			unix.Close(fd)
		}
	}
}

// Ends are the calls /end/<end>/ ends a connection with, instead of close(2).
var Ends = []string{"close_range", "dup2", "threadclose"}

// respond answers /tx/<write>/... with 200 through that write path, and
// anything else with 404 through write(2).
func respond(fd int, how string, req request) error {
	tx := "write"
	status := "404 Not Found"
	if rest, ok := strings.CutPrefix(req.path, "/tx/"); ok {
		name, _, _ := strings.Cut(rest, "/")
		for _, w := range AllWrites() {
			if w == name {
				tx, status = w, "200 OK"
			}
		}
	}
	body := []byte(fmt.Sprintf("rx=%s tx=%s path=%s\n", how, tx, req.path))
	if tx == "sendfile" || tx == "splice" {
		// A body worth a sendfile: a few KiB, as a static file would be.
		body = append(body, bytes.Repeat([]byte(tx+" body\n"), 300)...)
	}
	conn := "keep-alive"
	if req.close {
		conn = "close"
	}
	head := fmt.Sprintf("HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"+
		"Connection: %s\r\nX-Server-Pid: %d\r\nX-Rx: %s\r\nX-Tx: %s\r\n\r\n",
		status, len(body), conn, os.Getpid(), how, tx)
	return send(fd, tx, []byte(head), body)
}
