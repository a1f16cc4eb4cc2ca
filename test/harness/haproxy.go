package harness

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// HAProxy is a single haproxy process (foreground, one thread) forwarding
// every request to one upstream server.
type HAProxy struct {
	*Server
	Upstream string // host:port it forwards to
	Conf     string // the generated configuration file
}

// haproxyConf is the generated configuration: %[1]s the listen address,
// %[2]s the upstream server. Responses are moved with splice(2) from the
// upstream socket through a pipe to the client's socket whenever haproxy
// can (option splice-response): such bytes pass no read or write syscall.
const haproxyConf = `global
    nbthread 1
    maxconn 256

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
    option http-keep-alive
    option splice-response

frontend fe
    bind %[1]s
    default_backend be

backend be
    server up %[2]s
`

// StartHAProxy runs haproxy (`haproxy -db -f CONF`) in front of upstream
// (host:port) on a free loopback port, from a generated configuration in a
// temporary directory, and waits until it accepts connections. Its PID is
// the one process that serves both sides.
func StartHAProxy(t testing.TB, upstream string) *HAProxy {
	t.Helper()
	bin := NeedBinary(t, "haproxy")
	dir := t.TempDir()
	addr := FreeAddr(t)
	conf := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(haproxyConf, addr, upstream)), 0o644); err != nil {
		t.Fatal(err)
	}
	check, err := exec.Command(bin, "-c", "-f", conf).CombinedOutput()
	if err != nil {
		t.Fatalf("haproxy -c -f %s: %v\n%s", conf, err, check)
	}
	p := Start(t, exec.Command(bin, "-db", "-f", conf))
	h := &HAProxy{Server: &Server{Proc: p, Addr: addr}, Upstream: upstream, Conf: conf}
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return h
		}
		select {
		case <-p.done:
			t.Fatalf("haproxy exited (%v) before listening on %s\nstderr:\n%s", p.err, addr, strings.Join(p.Stderr(), "\n"))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy did not come up on %s: %v\nstderr:\n%s", addr, err, strings.Join(p.Stderr(), "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
