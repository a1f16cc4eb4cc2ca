package tracer

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The traced side of the kernel test: the test binary run again with
// childRole set. It talks to the test over stdin/stdout (pipes, which the
// programs ignore) and over loopback TCP sockets made with raw syscalls.
const childRole = "HTTPTRACE_TRACER_TEST_CHILD"

// payload is what one syscall moves: one part per buffer.
type payload struct {
	sys   string
	parts []string
}

// manyParts is n short buffers, prefix and a two-digit number each.
func manyParts(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return out
}

// Payloads the child sends and receives, one per syscall.
var (
	sendPayloads = []payload{
		{"writev", []string{"writev-a", "writev-bb"}}, // the skip passes over the first buffer
		{"write", []string{"write-payload"}},
		{"writev", manyParts("v", 5*64+7)}, // iovecs read in several batches, all copied
		{"sendto", []string{"sendto-payload"}},
		{"sendmsg", []string{"sendmsg-payload"}},
		{"sendfile", []string{"sendfile-file-body"}},
	}
	recvPayloads = []payload{
		{"read", []string{"read-payload"}},
		{"readv", []string{"readv-a", "readv-bb"}},
		{"recvfrom", []string{"recvfrom-payload"}},
		{"recvmsg", []string{"recvmsg-payload"}},
	}
	grandchildPayload = "grandchild-write"
	connectPayload    = "connect-payload"
	filePayload       = "GET /file HTTP/1.1\r\n\r\n"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childRole) {
	case "child":
		if err := runChild(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		os.Exit(0)
	case "reader":
		if err := runReader(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		os.Exit(0)
	case "h2writer":
		if err := runH2Writer(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		os.Exit(0)
	case "grandchild":
		// Write on the inherited socket (fd 3) and exit.
		if _, err := unix.Write(3, []byte(grandchildPayload)); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild is the traced process's script; each step waits for the test's go-ahead.
func runChild() error {
	in := bufio.NewScanner(os.Stdin)
	wait := func(word string) error {
		if !in.Scan() || in.Text() != word {
			return fmt.Errorf("waiting for %q: got %q", word, in.Text())
		}
		return nil
	}
	lfd, port, err := listen()
	if err != nil {
		return err
	}
	fmt.Println("listen", port)
	afd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
	if err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	fmt.Println("accepted", afd)
	if err := wait("go"); err != nil { // tracing has started
		return err
	}
	if err := sendAll(afd); err != nil {
		return err
	}
	fmt.Println("sent")
	if err := wait("recv"); err != nil { // the test has queued what to read
		return err
	}
	if err := recvAll(afd); err != nil {
		return err
	}
	// A forked child writes on the inherited socket.
	f := os.NewFile(uintptr(afd), "accepted")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childRole+"=grandchild")
	cmd.ExtraFiles = []*os.File{f}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("grandchild: %w", err)
	}
	// A regular file holding a request: read, never traced.
	path := os.TempDir() + "/httptrace-tracer-test-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(path, []byte(filePayload), 0o600); err != nil {
		return err
	}
	defer os.Remove(path)
	ffd, err := unix.Open(path, unix.O_RDONLY, 0)
	if err != nil {
		return err
	}
	buf := make([]byte, 64)
	if _, err := unix.Read(ffd, buf); err != nil {
		return err
	}
	unix.Close(ffd)
	// The client side: connect to the test's listener and write.
	cfd, err := dial(os.Getenv("HTTPTRACE_TRACER_TEST_PORT"))
	if err != nil {
		return err
	}
	fmt.Println("connected", cfd)
	if _, err := unix.Write(cfd, []byte(connectPayload)); err != nil {
		return err
	}
	if err := wait("close"); err != nil { // the test has read the socket ids
		return err
	}
	unix.Close(cfd)
	if err := f.Close(); err != nil {
		return err
	}
	unix.Close(lfd)
	fmt.Println("done")
	return nil
}

func listen() (fd, port int, err error) {
	fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		return 0, 0, fmt.Errorf("bind: %w", err)
	}
	if err := unix.Listen(fd, 8); err != nil {
		return 0, 0, fmt.Errorf("listen: %w", err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return 0, 0, fmt.Errorf("getsockname: %w", err)
	}
	return fd, sa.(*unix.SockaddrInet4).Port, nil
}

func dial(port string) (int, error) {
	p, err := strconv.Atoi(port)
	if err != nil {
		return 0, fmt.Errorf("port %q: %w", port, err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("socket: %w", err)
	}
	if err := unix.Connect(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}, Port: p}); err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	return fd, nil
}

// sendAll writes each send payload with its syscall.
func sendAll(fd int) error {
	for _, p := range sendPayloads {
		var err error
		switch p.sys {
		case "write":
			_, err = unix.Write(fd, []byte(p.parts[0]))
		case "writev":
			_, err = unix.Writev(fd, bytesOf(p.parts))
		case "sendto":
			err = sendto(fd, []byte(p.parts[0]))
		case "sendmsg":
			_, err = unix.SendmsgN(fd, []byte(p.parts[0]), nil, nil, 0)
		case "sendfile":
			err = sendfile(fd, p.parts[0])
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p.sys, err)
		}
	}
	return nil
}

// sendto is sendto(2) with no address (unix.Sendto needs one).
func sendto(fd int, b []byte) error {
	_, _, errno := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

func sendfile(fd int, body string) error {
	path := os.TempDir() + "/httptrace-tracer-sendfile-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		return err
	}
	defer os.Remove(path)
	in, err := unix.Open(path, unix.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer unix.Close(in)
	n, err := unix.Sendfile(fd, in, nil, len(body))
	if err == nil && n != len(body) {
		err = fmt.Errorf("sent %d of %d bytes", n, len(body))
	}
	return err
}

// recvAll reads each receive payload with its syscall, into buffers of
// exactly its size (the test queued all of them before).
func recvAll(fd int) error {
	for _, p := range recvPayloads {
		bufs := make([][]byte, len(p.parts))
		for i, part := range p.parts {
			bufs[i] = make([]byte, len(part))
		}
		var n int
		var err error
		switch p.sys {
		case "read":
			n, err = unix.Read(fd, bufs[0])
		case "readv":
			n, err = unix.Readv(fd, bufs)
		case "recvfrom":
			n, _, err = unix.Recvfrom(fd, bufs[0], 0)
		case "recvmsg":
			n, _, _, _, err = unix.Recvmsg(fd, bufs[0], nil, 0)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", p.sys, err)
		}
		if got := string(joinBytes(bufs)); n != len(got) || got != strings.Join(p.parts, "") {
			return fmt.Errorf("%s read %d bytes %q", p.sys, n, got)
		}
	}
	return nil
}

func bytesOf(parts []string) [][]byte {
	out := make([][]byte, len(parts))
	for i, p := range parts {
		out[i] = []byte(p)
	}
	return out
}

func joinBytes(bufs [][]byte) []byte {
	var out []byte
	for _, b := range bufs {
		out = append(out, b...)
	}
	return out
}

// runReader connects to the test's listener and reads what comes, saying
// how much after each read, until the test closes its side.
func runReader() error {
	fd, err := dial(os.Getenv("HTTPTRACE_TRACER_TEST_PORT"))
	if err != nil {
		return err
	}
	fmt.Println("connected", fd)
	buf := make([]byte, 256)
	for {
		n, err := unix.Read(fd, buf)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if n == 0 {
			fmt.Println("read", n)
			return nil
		}
		// "echo:" asks for the bytes back: a write on the connection.
		if bytes.HasPrefix(buf[:n], []byte("echo:")) {
			if _, err := unix.Write(fd, buf[:n]); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		}
		fmt.Println("read", n)
	}
}
