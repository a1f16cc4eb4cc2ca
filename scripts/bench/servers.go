// The servers under load: nginx (2 workers, generated config) and the Go test server.
package main

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/httptrace/httptrace/test/certs"
)

// server is a running server: the PID to trace and the URL to load.
type server struct {
	name string
	url  string
	proc *child
	h2   bool // loaded over HTTP/2 with h2load, not wrk
	grpc bool // its requests are gRPC calls (h2load posts a message)
}

// nginxConf is nginx's whole configuration: two workers, a small static
// response, every path it writes inside the prefix directory.
const nginxConf = `daemon off;
master_process on;
worker_processes 2;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:%[2]d%[3]s;
        location / {
            default_type text/plain;
            return 200 "ok\n";
        }
    }
}
`

// startServer starts the named server with its files in dir and waits
// until it answers. The -tls servers serve HTTPS with a certificate made
// for the run.
func startServer(c config, name, dir string) (*server, error) {
	var cert, key string
	if strings.HasSuffix(name, "-tls") {
		var err error
		if cert, key, err = certs.Write(dir); err != nil {
			return nil, err
		}
	}
	switch name {
	case "nginx", "nginx-tls":
		return startNginx(name, dir, cert, key)
	case "go", "go-tls", "go-h2c", "grpc":
		return startGoServer(c, name, dir, cert, key)
	}
	return nil, fmt.Errorf("unknown server %q", name)
}

// scheme is the URL scheme of a server with (or without) a certificate.
func scheme(cert string) string {
	if cert != "" {
		return "https"
	}
	return "http"
}

// startNginx writes the configuration and runs nginx in the foreground;
// the traced PID is the master's, the process started here.
func startNginx(name, dir, cert, key string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	ssl := ""
	if cert != "" {
		ssl = fmt.Sprintf(" ssl;\n        ssl_certificate %s;\n        ssl_certificate_key %s", cert, key)
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(nginxConf, dir, port, ssl)), 0o644); err != nil {
		return nil, fmt.Errorf("writing nginx.conf: %w", err)
	}
	p, err := startChild(filepath.Join(dir, "nginx.out"), filepath.Join(dir, "nginx.err"),
		"nginx", "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", conf)
	if err != nil {
		return nil, err
	}
	s := &server{name: name, url: fmt.Sprintf("%s://127.0.0.1:%d/", scheme(cert), port), proc: p}
	return s, s.waitUp()
}

// startGoServer runs the Go net/http test server (over crypto/tls with a
// certificate), which prints its address.
func startGoServer(c config, name, dir, cert, key string) (*server, error) {
	out := filepath.Join(dir, "goserver.out")
	args := []string{"127.0.0.1:0"}
	if cert != "" {
		args = append(args, cert, key)
	}
	switch name {
	case "go-h2c":
		args = append(args, "h2c")
	case "grpc":
		args = append(args, "grpc")
	}
	p, err := startChild(out, filepath.Join(dir, "goserver.err"), append([]string{c.goserver}, args...)...)
	if err != nil {
		return nil, err
	}
	var addr string
	err = p.waitFor(out, func(b []byte) bool {
		_, after, ok := bytes.Cut(b, []byte("listening "))
		if !ok {
			return false
		}
		line, _, ok := bytes.Cut(after, []byte("\n"))
		addr = string(line)
		return ok
	}, 10*time.Second, `"listening ADDR"`)
	if err != nil {
		p.stop(syscall.SIGKILL, time.Second)
		return nil, err
	}
	s := &server{name: name, url: scheme(cert) + "://" + addr + "/bench", proc: p, h2: loadGenerator(name) != "wrk"}
	if loadGenerator(name) == "h2load-grpc" {
		// grpc-go answers no HTTP/1 request: the address it printed is up.
		s.url, s.h2, s.grpc = "http://"+addr+grpcPath, true, true
		return s, nil
	}
	return s, s.waitUp()
}

// waitUp polls the URL until the server answers 200, before any tracer
// starts (so the probe request is never traced).
func (s *server) waitUp() error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // the run's own certificate
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(s.url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				client.CloseIdleConnections()
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if s.proc.exited() || time.Now().After(deadline) {
			s.stop()
			return fmt.Errorf("%s at %s does not answer: %v: %s", s.name, s.url, err, s.proc.tail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends the server (nginx's master takes its workers with it).
func (s *server) stop() error {
	return s.proc.stop(syscall.SIGTERM, 10*time.Second)
}

// freePort asks the kernel for a loopback port that is free right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
