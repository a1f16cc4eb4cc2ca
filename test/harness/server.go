// Package harness runs real servers, clients and httptrace itself for the
// end-to-end tests, on the host and inside the kernel-matrix guests.
package harness

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/httptrace/httptrace/test/servers/syscalls"
)

// ServeEnv is the variable that, set in a test binary's environment, makes ServeIfAsked run
// the Go test server instead of the tests.
const ServeEnv = "HTTPTRACE_TEST_SERVE"

// ServeAddrEnv, when set, is the host:port the Go test server listens on
// (default a free loopback port).
const ServeAddrEnv = "HTTPTRACE_TEST_SERVE_ADDR"

// ServeCertEnv and ServeKeyEnv, when set, make the Go test server serve
// HTTPS with these certificate and key files.
const (
	ServeCertEnv = "HTTPTRACE_TEST_SERVE_CERT"
	ServeKeyEnv  = "HTTPTRACE_TEST_SERVE_KEY"
)

// ServeWrappedEnv, when set with a certificate, makes the Go test server
// hand crypto/tls each connection wrapped in a type of its own (as a
// PROXY-protocol or metrics listener does), not the *net.TCPConn.
const ServeWrappedEnv = "HTTPTRACE_TEST_SERVE_WRAPPED"

// wrappedConn is a net.Conn that is not a *net.TCPConn.
type wrappedConn struct{ net.Conn }

// wrappingListener wraps each connection it accepts.
type wrappingListener struct{ net.Listener }

func (l wrappingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &wrappedConn{c}, nil
}

// FileRequest is what the server's regular file holds: bytes that look like
// a request, so a tracer that wrongly followed file reads would log them.
const FileRequest = "GET /from-regular-file HTTP/1.1\r\nHost: file\r\n\r\n"

// ServeIfAsked runs a test server and exits when ServeEnv is set: "1" (or
// "go") for the Go net/http server, "syscalls" for the syscall-path server,
// "h2c" for net/http over HTTP/2 without TLS, "h2c-upgrade" for the same
// reached by the HTTP/1.1 upgrade, "grpc" for grpc-go's.
// Call it first in TestMain. One static test binary is then both the tests
// and the servers in a guest that has nothing else.
func ServeIfAsked() {
	which := os.Getenv(ServeEnv)
	if which == "" {
		return
	}
	var err error
	switch which {
	case "syscalls":
		err = syscalls.Serve(os.Stdout)
	case "h2c":
		err = ServeH2C(serveAddr())
	case "h2c-upgrade":
		err = ServeH2CUpgrade(serveAddr())
	case "grpc":
		err = ServeGRPC(serveAddr())
	default:
		addr := os.Getenv(ServeAddrEnv)
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		err = ServeTLS(addr, os.Getenv(ServeCertEnv), os.Getenv(ServeKeyEnv))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "test server:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func serveAddr() string {
	if a := os.Getenv(ServeAddrEnv); a != "" {
		return a
	}
	return "127.0.0.1:0"
}

// Main is TestMain for packages that use the Go test server: the binary
// serves when asked to (ServeIfAsked), else runs its tests.
func Main(m *testing.M) {
	ServeIfAsked()
	os.Exit(m.Run())
}

// Serve runs the Go net/http test server: it listens on addr, prints
// "listening ADDR" on stdout, and serves:
//
//	/read-file  reads a regular file of request-like bytes, then answers
//	/reuse-fd   answers, closes the connection, then opens and reads that
//	            file (the fd number is free again) and prints both fds
//	/slow       answers after 300 ms
//	/status/N/  answers with status N (no body for 1xx, 204 and 304)
//	/chunked/   answers in three flushed chunks (Transfer-Encoding: chunked)
//	/large/     answers with a 1 MiB body
//	/bytes/N/   answers with an N-byte body (N up to 16 MiB) and its Content-Length
//	/deep/N/    answers with an 8 KiB body, then closes: the connection's
//	            one Write of it made from a new goroutine N calls deep, so
//	            that it meets the stack's end at a depth of the caller's
//	            choosing; prints "deep N: the stack grew in Write" when it did
//	/body/      reads the request body (so Expect: 100-continue is answered) and echoes its size
//	/call/HOST:PORT/PATH  calls http://HOST:PORT/PATH (a new connection) and
//	            answers with its status
//	anything else, any method: 200 "ok PATH"
//
// Every answer carries X-Server-Pid, the pid that served it.
func Serve(addr string) error { return ServeTLS(addr, "", "") }

// ServeTLS is Serve over TLS (HTTP/1.1) with the certificate and key
// files, or Serve when they are "".
func ServeTLS(addr, certFile, keyFile string) error {
	dir, err := os.MkdirTemp("", "httptrace-server")
	if err != nil {
		return err
	}
	file := filepath.Join(dir, "request.txt")
	if err := os.WriteFile(file, []byte(FileRequest), 0o644); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return err
		}
		if os.Getenv(ServeWrappedEnv) != "" {
			ln = wrappingListener{ln}
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"http/1.1"}})
	}
	out := bufio.NewWriter(os.Stdout)
	var sayMu sync.Mutex
	say := func(format string, args ...any) {
		sayMu.Lock()
		defer sayMu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
		out.Flush()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/read-file", func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.ReadFile(file); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintln(w, "read")
	})
	mux.HandleFunc("/reuse-fd", func(w http.ResponseWriter, r *http.Request) {
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		connFD := fdOf(conn)
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\nX-Server-Pid: %d\r\n\r\nreuse\n", os.Getpid())
		buf.Flush()
		conn.Close()
		fileFD, err := readOnFD(file, connFD)
		if err != nil {
			say("reuse error %v", err)
			return
		}
		say("reuse conn_fd=%d file_fd=%d", connFD, fileFD)
	})
	caller := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	mux.HandleFunc("/call/", func(w http.ResponseWriter, r *http.Request) {
		resp, err := caller.Get("http://" + strings.TrimPrefix(r.URL.Path, "/call/"))
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		fmt.Fprintf(w, "called: %d\n", resp.StatusCode)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		fmt.Fprintln(w, "slow")
	})
	mux.HandleFunc("/status/", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(r.URL.Path, "/status/"), "/", 2)[0])
		if err != nil || code < 200 || code > 599 {
			http.Error(w, "bad status", 400)
			return
		}
		w.WriteHeader(code)
		fmt.Fprintf(w, "status %d\n", code) // dropped by net/http for 204 and 304
	})
	mux.HandleFunc("/chunked/", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "chunk %d of %s\n", i, r.URL.Path)
			w.(http.Flusher).Flush()
		}
	})
	large := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	mux.HandleFunc("/large/", func(w http.ResponseWriter, r *http.Request) {
		w.Write(large)
	})
	mux.HandleFunc("/bytes/", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(r.URL.Path, "/bytes/"), "/", 2)[0])
		if err != nil || n < 0 || n > 16<<20 {
			http.Error(w, "bad size", 400)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(n))
		for n > 0 {
			k := min(n, len(large))
			w.Write(large[:k])
			n -= k
		}
	})
	mux.HandleFunc("/deep/", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(r.URL.Path, "/deep/"), "/", 2)[0])
		if err != nil || n < 0 || n > 10000 {
			http.Error(w, "bad depth", 400)
			return
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer conn.Close()
		answer := append([]byte(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: 8192\r\nConnection: close\r\nX-Server-Pid: %d\r\n\r\n", os.Getpid())), large[:8192]...)
		done := make(chan struct{})
		go func() {
			defer close(done)
			deep(n, func() {
				// A stack that moved during the Write grew in it (in its
				// prologue, or deeper): said, for the test to know its
				// depths reached the stack's end.
				var mark byte
				at := uintptr(unsafe.Pointer(&mark))
				conn.Write(answer)
				if uintptr(unsafe.Pointer(&mark)) != at {
					say("deep %d: the stack grew in Write", n)
				}
			})
		}()
		<-done
	})
	mux.HandleFunc("/body/", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		fmt.Fprintf(w, "got %d bytes\n", n)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "ok %s\n", r.URL.Path)
	})
	pid := strconv.Itoa(os.Getpid())
	withPid := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Server-Pid", pid)
		mux.ServeHTTP(w, r)
	})
	say("listening %s", ln.Addr())
	return http.Serve(ln, withPid)
}

// fdOf is the file descriptor number of a TCP connection.
func fdOf(c net.Conn) int {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return -1
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return -1
	}
	fd := -1
	raw.Control(func(f uintptr) { fd = int(f) })
	return fd
}

// readOnFD opens a file with plain syscalls until the kernel hands out the
// wanted fd number (lower free numbers come first and are held open
// meanwhile), reads it on that fd, and returns the fd it read on.
func readOnFD(path string, want int) (int, error) {
	var held []int
	defer func() {
		for _, fd := range held {
			syscall.Close(fd)
		}
	}()
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		held = append(held, fd)
		if fd < want {
			continue
		}
		buf := make([]byte, 512)
		_, err = syscall.Read(fd, buf)
		return fd, err
	}
}

// deep calls f n calls down: a body written there meets the end of a new
// goroutine's stack at a depth of the caller's choosing.
//
//go:noinline
func deep(n int, f func()) {
	if n == 0 {
		f()
		return
	}
	deep(n-1, f)
}
