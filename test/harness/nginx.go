package harness

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Nginx is an nginx master process (daemon off) with its workers.
type Nginx struct {
	*Server
	bin, conf, prefix string
}

// nginxConf is the generated configuration: %[1]s the prefix directory,
// %[2]s the listen address, %[3]s the user line, %[4]s the upstream that
// /proxy/ forwards to (its path without /proxy). Each request is logged to
// %[1]s/access.log as "ID|REQUEST|STATUS|REQUEST_LENGTH|BYTES_SENT", ID the
// request's X-Test-Id header (AccessLog reads it).
const nginxConf = `%[3]s
worker_processes 2;
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
    log_format ht '$http_x_test_id|$request|$status|$request_length|$bytes_sent';
    access_log %[1]s/access.log ht;
    sendfile on;
    keepalive_timeout 30s;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    default_type text/plain;
    server {
        listen %[2]s;
        %[5]s
        root %[1]s/www;
        add_header X-Server-Pid $pid always;
        location /static/ { try_files /file.txt =404; }
        location /big/ { try_files /big.bin =404; }
        location /mid/ { try_files /mid.bin =404; }
        location /status/200/ { return 200 "ok\n"; }
        location /status/201/ { return 201 "created\n"; }
        location /status/204/ { return 204; }
        location /status/404/ { return 404; }
        location /status/500/ { return 500; }
        location /post/ { return 200 "posted\n"; }
        location /proxy/ { proxy_pass http://%[4]s/; }
    }
}
`

// StartNginx runs nginx with two workers on a free loopback port, from a
// generated configuration in a temporary directory, and waits until it
// accepts connections and both workers are up. Its PID is the master's.
func StartNginx(t testing.TB) *Nginx {
	t.Helper()
	return StartNginxProxy(t, "127.0.0.1:9")
}

// StartNginxProxy is StartNginx with /proxy/ forwarded to upstream (host:port).
func StartNginxProxy(t testing.TB, upstream string) *Nginx {
	t.Helper()
	return startNginx(t, FreeAddr(t), upstream)
}

// StartNginxAt is StartNginx listening on addr (host:port).
func StartNginxAt(t testing.TB, addr string) *Nginx {
	t.Helper()
	return startNginx(t, addr, "127.0.0.1:9")
}

// StartNginxUnix is StartNginxProxy listening on the unix socket path
// (its Addr is "unix:PATH"); upstream may be a unix socket too
// ("unix:/run/app.sock:", nginx's form).
func StartNginxUnix(t testing.TB, path, upstream string) *Nginx {
	t.Helper()
	return startNginx(t, "unix:"+path, upstream)
}

// StartNginxTLS is StartNginxProxy serving HTTPS (a certificate made for
// the test); its Addr is host:port.
func StartNginxTLS(t testing.TB, upstream string) *Nginx {
	t.Helper()
	cert, key := TLSCert(t)
	return startNginxWith(t, FreeAddr(t), upstream, " ssl", fmt.Sprintf("ssl_certificate %s; ssl_certificate_key %s;", cert, key))
}

// StartNginxH2TLS is StartNginxTLS speaking HTTP/2 to a client that
// offers it (ALPN h2).
func StartNginxH2TLS(t testing.TB) *Nginx {
	t.Helper()
	cert, key := TLSCert(t)
	return startNginxWith(t, FreeAddr(t), "127.0.0.1:9", " ssl http2", fmt.Sprintf("ssl_certificate %s; ssl_certificate_key %s;", cert, key))
}

// MidFileBytes is the size of the file nginx serves at /mid/.
const MidFileBytes = 12000

// startNginx runs nginx listening on addr (host:port or unix:PATH).
func startNginx(t testing.TB, addr, upstream string) *Nginx {
	t.Helper()
	return startNginxWith(t, addr, upstream, "", "")
}

// startNginxWith runs nginx listening on addr with listen parameters
// listenArgs, and extra lines in its server block.
func startNginxWith(t testing.TB, addr, upstream, listenArgs, extra string) *Nginx {
	t.Helper()
	bin := NeedBinary(t, "nginx")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "www"), 0o755); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("nginx static file\n", 200)
	if err := os.WriteFile(filepath.Join(dir, "www", "file.txt"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	// A file for /mid/ that HTTP/2 sends as two DATA frames (http2_chunk_size 8k).
	if err := os.WriteFile(filepath.Join(dir, "www", "mid.bin"), []byte(strings.Repeat("m", MidFileBytes)), 0o644); err != nil {
		t.Fatal(err)
	}
	// A 2 MiB file for /big/: sent with sendfile.
	if err := os.WriteFile(filepath.Join(dir, "www", "big.bin"), []byte(strings.Repeat("0123456789abcdef", 128<<10)), 0o644); err != nil {
		t.Fatal(err)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, dir, addr+listenArgs, user, upstream, extra)), 0o644); err != nil {
		t.Fatal(err)
	}
	n := &Nginx{bin: bin, conf: conf, prefix: dir}
	p := Start(t, exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log")))
	n.Server = &Server{Proc: p, Addr: addr}
	// Runs before Start's cleanup: a killed master would leave its workers.
	t.Cleanup(func() {
		p.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		network, dial := "tcp", addr
		if path, ok := strings.CutPrefix(addr, "unix:"); ok {
			network, dial = "unix", path
		}
		c, err := net.DialTimeout(network, dial, time.Second)
		if err == nil && len(Children(n.PID())) == 2 {
			c.Close()
			return n
		}
		if c != nil {
			c.Close()
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not come up on %s with 2 workers: %v\nstderr:\n%s\nerror.log:\n%s",
				addr, err, strings.Join(p.Stderr(), "\n"), log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// AccessEntry is one line of nginx's access log.
type AccessEntry struct {
	ID, Request              string
	Status                   int
	RequestLength, BytesSent int64
}

// AccessLog reads what nginx logged so far, by X-Test-Id.
func (n *Nginx) AccessLog(t testing.TB) map[string]AccessEntry {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(n.prefix, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]AccessEntry{}
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		f := strings.Split(l, "|")
		if len(f) != 5 {
			continue
		}
		e := AccessEntry{ID: f[0], Request: f[1]}
		e.Status, _ = strconv.Atoi(f[2])
		e.RequestLength, _ = strconv.ParseInt(f[3], 10, 64)
		e.BytesSent, _ = strconv.ParseInt(f[4], 10, 64)
		out[e.ID] = e
	}
	return out
}

// Workers are the master's worker processes now.
func (n *Nginx) Workers() []int { return Children(n.PID()) }

// Reload runs `nginx -s reload` and waits until the old workers are gone
// and two new ones serve, returning the new workers.
func (n *Nginx) Reload(t testing.TB) []int {
	t.Helper()
	old := map[int]bool{}
	for _, pid := range n.Workers() {
		old[pid] = true
	}
	out, err := exec.Command(n.bin, "-p", n.prefix, "-c", n.conf, "-e", filepath.Join(n.prefix, "error.log"), "-s", "reload").CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -s reload: %v\n%s", err, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		now := n.Workers()
		fresh := 0
		for _, pid := range now {
			if !old[pid] {
				fresh++
			}
		}
		if fresh == 2 && len(now) == 2 {
			return now
		}
		if time.Now().After(deadline) {
			t.Fatalf("after nginx -s reload the workers are %v (were %v)", now, old)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Children are the live child processes of pid, from /proc.
func Children(pid int) []int {
	var out []int
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(s); err == nil {
				out = append(out, c)
			}
		}
	}
	sort.Ints(out)
	return out
}

// FreeAddr is a loopback address with a port nothing listens on now.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
