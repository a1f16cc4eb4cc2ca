package harness

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Server is a running HTTP server.
type Server struct {
	*Proc
	Addr string // host:port
}

// URL is the server's address with a path.
func (s *Server) URL(path string) string { return "http://" + s.Addr + path }

// StartGoServer runs this test binary as the Go net/http server (see ServeIfAsked).
func StartGoServer(t testing.TB) *Server {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), ServeEnv+"=1")
	return startServer(t, cmd)
}

// nodeServer is a Node.js http server; libuv reads sockets with read(2).
const nodeServer = `
const http = require('http');
const srv = http.createServer((req, res) => { res.end('ok ' + req.url + '\n'); });
srv.listen(0, '127.0.0.1', () => { console.log('listening 127.0.0.1:' + srv.address().port); });
`

// StartNodeServer runs a Node.js http server.
func StartNodeServer(t testing.TB) *Server {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node not found: the Node.js end-to-end test needs it (make deps installs it)")
	}
	return startServer(t, exec.Command(node, "-e", nodeServer))
}

func startServer(t testing.TB, cmd *exec.Cmd) *Server {
	t.Helper()
	p := Start(t, cmd)
	line := p.WaitLine(t, false, func(l string) bool { return strings.HasPrefix(l, "listening ") }, 30*time.Second)
	return &Server{Proc: p, Addr: strings.TrimPrefix(line, "listening ")}
}
