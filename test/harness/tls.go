package harness

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/userbin"
	"github.com/httptrace/httptrace/test/certs"
	"github.com/httptrace/httptrace/test/servers"
)

// TLSCert writes a self-signed certificate for 127.0.0.1 and localhost,
// and its key, into the test's temporary directory, and returns their
// paths (PEM).
func TLSCert(t testing.TB) (cert, key string) {
	t.Helper()
	cert, key, err := certs.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// NewTLSClient is an HTTPS client that takes any certificate (the tests'
// are self-signed), speaking HTTP/1.1 only.
func NewTLSClient(keepAlive bool) *Client {
	tr := &http.Transport{
		DisableKeepAlives: !keepAlive, MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // a test's own certificate
		TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	return &Client{c: &http.Client{Transport: tr, Timeout: 20 * time.Second}}
}

// StartNodeTLSServer runs servers/node/server.js serving HTTPS.
func StartNodeTLSServer(t testing.TB) *Server {
	t.Helper()
	node := NeedBinary(t, "node")
	cert, key := TLSCert(t)
	return startServer(t, exec.Command(node, writeScript(t, "server.js", servers.NodeServer), cert, key))
}

// PythonTLS is servers/python/tlsserver.py, waiting to load ssl.
type PythonTLS struct {
	*Proc
	gofile string
}

// StartPythonTLSServer runs servers/python/tlsserver.py, which imports
// ssl only once Listen is called.
func StartPythonTLSServer(t testing.TB) *PythonTLS {
	t.Helper()
	py := NeedBinary(t, "python3")
	cert, key := TLSCert(t)
	gofile := filepath.Join(t.TempDir(), "go")
	p := Start(t, exec.Command(py, "-u", writeScript(t, "tlsserver.py", servers.PythonTLSServer), cert, key, gofile))
	p.WaitLine(t, false, func(l string) bool { return l == "waiting" }, 30*time.Second)
	return &PythonTLS{Proc: p, gofile: gofile}
}

// Listen makes the server load ssl and listen, and returns its server.
func (s *PythonTLS) Listen(t testing.TB) *Server {
	t.Helper()
	if err := os.WriteFile(s.gofile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	line := s.WaitLine(t, false, func(l string) bool { return len(l) > 10 && l[:10] == "listening " }, 30*time.Second)
	return &Server{Proc: s.Proc, Addr: line[10:]}
}

// StartGoTLSServer runs this test binary as the Go test server serving
// HTTPS (crypto/tls, in a binary with symbols). Its new goroutines start
// with the smallest stack (no adaptive start), so that /deep/ places
// writes at the stack's end.
func StartGoTLSServer(t testing.TB) *Server {
	t.Helper()
	cert, key := TLSCert(t)
	cmd := selfServe(t, "go")
	cmd.Env = append(cmd.Env, ServeCertEnv+"="+cert, ServeKeyEnv+"="+key, "GODEBUG=adaptivestackstart=0")
	return startServer(t, cmd)
}

// StartWrappedGoTLSServer is StartGoTLSServer with each connection handed
// to crypto/tls wrapped in a type of its own (ServeWrappedEnv).
func StartWrappedGoTLSServer(t testing.TB) *Server {
	t.Helper()
	cert, key := TLSCert(t)
	cmd := selfServe(t, "go")
	cmd.Env = append(cmd.Env, ServeCertEnv+"="+cert, ServeKeyEnv+"="+key, ServeWrappedEnv+"=1")
	return startServer(t, cmd)
}

// StrippedGoServerEnv names a goserver binary built with -ldflags=-s -w
// (make builds bin/goserver-stripped).
const StrippedGoServerEnv = "HTTPTRACE_GOSERVER_STRIPPED"

// StartStrippedGoTLSServer runs the stripped goserver serving HTTPS: a Go
// binary with no symbol table and no DWARF, only .gopclntab.
func StartStrippedGoTLSServer(t testing.TB) *Server {
	t.Helper()
	bin := NeedEnvBinary(t, StrippedGoServerEnv, "make test sets it to bin/goserver-stripped")
	cert, key := TLSCert(t)
	return startServer(t, exec.Command(bin, "127.0.0.1:0", cert, key))
}

// StartCaddy runs the distribution's Caddy (a stripped Go binary, built
// by an older Go: Debian 12's is go1.19) serving HTTPS with the test's
// certificate and answering 200 "caddy ok" to every request.
func StartCaddy(t testing.TB) *Server {
	t.Helper()
	bin := NeedBinary(t, "caddy")
	cert, key := TLSCert(t)
	dir := t.TempDir()
	addr := FreeAddr(t)
	conf := filepath.Join(dir, "Caddyfile")
	body := "{\n\tadmin off\n\tauto_https off\n\tstorage file_system " + dir + "/data\n}\n" +
		"https://" + addr + " {\n\ttls " + cert + " " + key + "\n\trespond \"caddy ok\" 200\n}\n"
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", conf, "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	p := Start(t, cmd)
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test's certificate
		if err == nil {
			c.Close()
			return &Server{Proc: p, Addr: addr}
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy did not come up on %s: %v\n%s", addr, err, strings.Join(p.Stderr(), "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FirstByteOf reads the first byte of function fn of the executable
// mapping of a file whose name starts with lib in process pid, from the
// process's memory: 0xcc where a uprobe is installed in that process.
func FirstByteOf(t testing.TB, pid int, lib, fn string) byte {
	t.Helper()
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatalf("reading the mappings of %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(maps), "\n") {
		// start-end perms offset dev inode path
		f := strings.Fields(line)
		if len(f) < 6 || !strings.Contains(f[1], "x") || !strings.HasPrefix(filepath.Base(f[5]), lib) {
			continue
		}
		var start, end, off uint64
		if _, err := fmt.Sscanf(f[0]+" "+f[2], "%x-%x %x", &start, &end, &off); err != nil {
			t.Fatalf("mapping line %q: %v", line, err)
		}
		syms, err := userbin.Functions(fmt.Sprintf("/proc/%d/root%s", pid, f[5]), fn)
		if err != nil || syms[fn].Offset == 0 {
			t.Fatalf("finding %s in %s: %v", fn, f[5], err)
		}
		at := start + syms[fn].Offset - off
		if at < start || at >= end {
			continue
		}
		mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
		if err != nil {
			t.Fatal(err)
		}
		defer mem.Close()
		b := make([]byte, 1)
		if _, err := mem.ReadAt(b, int64(at)); err != nil {
			t.Fatalf("reading %s of %d at %#x: %v", fn, pid, at, err)
		}
		return b[0]
	}
	t.Fatalf("process %d maps no executable %s* holding %s", pid, lib, fn)
	return 0
}
