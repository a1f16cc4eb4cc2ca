package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/servers"
)

// RequireAllEnv, set to 1, turns a missing server program from a skip into a failure.
const RequireAllEnv = "HTTPTRACE_E2E_REQUIRE_ALL"

// Server is a running HTTP server.
type Server struct {
	*Proc
	Addr string // host:port
}

// URL is the server's address with a path.
func (s *Server) URL(path string) string { return "http://" + s.Addr + path }

// HTTPS is the server's address with a path, for a server of HTTPS.
func (s *Server) HTTPS(path string) string { return "https://" + s.Addr + path }

// NeedBinary finds a server program on PATH (and in /usr/sbin, where
// Debian puts nginx). A missing one skips the test, or fails it when
// $HTTPTRACE_E2E_REQUIRE_ALL is 1.
func NeedBinary(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	msg := name + " is not installed (scripts/deps.sh installs it): the test needs it"
	if os.Getenv(RequireAllEnv) == "1" {
		t.Fatal(msg + " and " + RequireAllEnv + "=1")
	}
	t.Skip(msg)
	return ""
}

// NeedEnvBinary is the binary the variable env names (built is what
// builds it, for the message); the test is skipped when it is not set, or
// fails under RequireAllEnv.
func NeedEnvBinary(t testing.TB, env, built string) string {
	t.Helper()
	if bin := os.Getenv(env); bin != "" {
		return bin
	}
	msg := env + " is not set (" + built + "): the test needs it"
	if os.Getenv(RequireAllEnv) == "1" {
		t.Fatal(msg + " and " + RequireAllEnv + "=1")
	}
	t.Skip(msg)
	return ""
}

// StartGoServer runs this test binary as the Go net/http server (see ServeIfAsked).
func StartGoServer(t testing.TB) *Server {
	t.Helper()
	return startServer(t, selfServe(t, "go"))
}

// StartGoServerAt is StartGoServer listening on addr (host:port).
func StartGoServerAt(t testing.TB, addr string) *Server {
	t.Helper()
	cmd := selfServe(t, "go")
	cmd.Env = append(cmd.Env, ServeAddrEnv+"="+addr)
	return startServer(t, cmd)
}

// selfServe is this test binary run as one of its servers.
func selfServe(t testing.TB, which string) *exec.Cmd {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), ServeEnv+"="+which)
	return cmd
}

// StartNodeServer runs servers/node/server.js.
func StartNodeServer(t testing.TB) *Server {
	t.Helper()
	node := NeedBinary(t, "node")
	return startServer(t, exec.Command(node, writeScript(t, "server.js", servers.NodeServer)))
}

// StartNodeH2Server runs servers/node/h2server.js (http2 without TLS).
func StartNodeH2Server(t testing.TB) *Server {
	t.Helper()
	node := NeedBinary(t, "node")
	return startServer(t, exec.Command(node, writeScript(t, "h2server.js", servers.NodeH2Server)))
}

// StartPythonServer runs servers/python/server.py (http.server).
func StartPythonServer(t testing.TB) *Server {
	t.Helper()
	py := NeedBinary(t, "python3")
	return startServer(t, exec.Command(py, "-u", writeScript(t, "server.py", servers.PythonServer)))
}

// StartPythonUnixServer runs servers/python/server.py on the unix socket
// path; its Addr is "unix:PATH".
func StartPythonUnixServer(t testing.TB, path string) *Server {
	t.Helper()
	py := NeedBinary(t, "python3")
	return startServer(t, exec.Command(py, "-u", writeScript(t, "server.py", servers.PythonServer), path))
}

// StartForkServer runs servers/python/forkserver.py (a child per connection).
func StartForkServer(t testing.TB) *Server {
	t.Helper()
	py := NeedBinary(t, "python3")
	return startServer(t, exec.Command(py, "-u", writeScript(t, "forkserver.py", servers.ForkServer)))
}

// writeScript writes an embedded script into the test's temporary directory.
func writeScript(t testing.TB, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startServer runs a server and waits for its "listening ADDR" line.
func startServer(t testing.TB, cmd *exec.Cmd) *Server {
	t.Helper()
	p := Start(t, cmd)
	line := p.WaitLine(t, false, func(l string) bool { return strings.HasPrefix(l, "listening ") }, 30*time.Second)
	return &Server{Proc: p, Addr: strings.TrimPrefix(line, "listening ")}
}

// SyscallServer is the syscall-path server: one address per read path.
type SyscallServer struct {
	*Proc
	Addrs map[string]string // read path -> host:port
}

// SyscallServerEnv names a syscallserver binary to run instead of this test
// binary in its syscalls role.
const SyscallServerEnv = "HTTPTRACE_SYSCALLSERVER"

// StartSyscallServer runs the syscall-path server: $HTTPTRACE_SYSCALLSERVER,
// else syscallserver on PATH, else this test binary serving the same code.
func StartSyscallServer(t testing.TB) *SyscallServer {
	t.Helper()
	cmd := selfServe(t, "syscalls")
	if p := os.Getenv(SyscallServerEnv); p != "" {
		cmd = exec.Command(p)
	} else if p, err := exec.LookPath("syscallserver"); err == nil {
		cmd = exec.Command(p)
	}
	p := Start(t, cmd)
	line := p.WaitLine(t, false, func(l string) bool { return strings.HasPrefix(l, "listening ") }, 30*time.Second)
	s := &SyscallServer{Proc: p, Addrs: map[string]string{}}
	for _, f := range strings.Fields(strings.TrimPrefix(line, "listening ")) {
		if how, addr, ok := strings.Cut(f, "="); ok {
			s.Addrs[how] = addr
		}
	}
	return s
}
