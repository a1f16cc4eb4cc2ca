package harness

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Get sends a GET with the given headers; see Request.
func Get(t testing.TB, url string, headers map[string]string) {
	t.Helper()
	Request(t, http.MethodGet, url, headers)
}

// Request sends one request with the given headers (and a small body for
// POST, PUT and PATCH), with curl where it is installed (as users do) and
// Go's client where it is not (the matrix guests), and fails the test unless
// the answer is 200.
func Request(t testing.TB, method, url string, headers map[string]string) {
	t.Helper()
	var body string
	if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		body = "body"
	}
	if curl, err := exec.LookPath("curl"); err == nil {
		args := []string{"-sS", "--http1.1", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}"}
		switch {
		case method == http.MethodHead:
			args = append(args, "-I") // -X HEAD would wait for a body
		case method != http.MethodGet:
			args = append(args, "-X", method)
		}
		if body != "" {
			args = append(args, "--data", body)
		}
		for k, v := range headers {
			args = append(args, "-H", fmt.Sprintf("%s: %s", k, v))
		}
		out, err := exec.Command(curl, append(args, url)...).CombinedOutput()
		if err != nil || string(out) != "200" {
			t.Fatalf("curl %s %s: %v %s", method, url, err, out)
		}
		return
	}
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	expectOK(t, resp, err, method+" "+url)
}

// expectOK reads and closes an answer, failing the test unless it is a 200.
func expectOK(t testing.TB, resp *http.Response, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("%s: status %d", what, resp.StatusCode)
	}
}

// KeepAlive is a client that sends every request over one connection, as
// browsers and load generators do.
type KeepAlive struct {
	client *http.Client
}

// NewKeepAlive makes a client holding one connection open.
func NewKeepAlive() *KeepAlive {
	return &KeepAlive{client: &http.Client{Timeout: 20 * time.Second,
		Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}}
}

// Get sends a GET with one header and fails the test unless the answer is 200.
func (k *KeepAlive) Get(t testing.TB, url, header, value string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(header, value)
	resp, err := k.client.Do(req)
	expectOK(t, resp, err, "GET "+url)
}

// Close drops the connection.
func (k *KeepAlive) Close() { k.client.CloseIdleConnections() }

// SendDuring sends two requests on one connection, the second while the
// server is still answering the first (send it to a slow path), then reads
// both answers. A Go server reads the first byte of the second request on
// its own then, in its background read.
func SendDuring(t testing.TB, addr, first, second string, headers map[string]string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	req := func(path string) string {
		s := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n", path, addr)
		for k, v := range headers {
			s += fmt.Sprintf("%s: %s-%s\r\n", k, v, strings.TrimPrefix(path, "/"))
		}
		return s + "\r\n"
	}
	if _, err := io.WriteString(conn, req(first)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, err := io.WriteString(conn, req(second)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	for _, path := range []string{first, second} {
		resp, err := http.ReadResponse(r, nil)
		expectOK(t, resp, err, "GET "+path)
	}
}
