package harness

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// IDHeader carries each request's unique id.
const IDHeader = "X-Test-Id"

// Get sends a GET with the given headers; see Request.
func Get(t testing.TB, url string, headers map[string]string) {
	t.Helper()
	Request(t, http.MethodGet, url, headers)
}

// Request sends one request with the given headers (and a small body for
// POST, PUT and PATCH), with curl where it is installed and Go's client
// where it is not, and fails the test unless the answer is 200.
func Request(t testing.TB, method, url string, headers map[string]string) {
	t.Helper()
	var body string
	if method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		body = "body"
	}
	if _, err := exec.LookPath("curl"); err == nil {
		if got := Curl(t, method, url, body, headers); got.Status != 200 {
			t.Fatalf("curl %s %s: status %d", method, url, got.Status)
		}
		return
	}
	c := NewClient(false)
	if got := c.Do(t, method, url, body, headers); got.Status != 200 {
		t.Fatalf("%s %s: status %d", method, url, got.Status)
	}
}

// Answer is what a client got back.
type Answer struct {
	Status    int
	ServerPID int // X-Server-Pid, 0 when absent
}

// Curl sends one request with curl and returns the answer.
func Curl(t testing.TB, method, url, body string, headers map[string]string) Answer {
	t.Helper()
	args := []string{"-sS", "--http1.1", "--max-time", "20", "-o", "/dev/null", "-D", "-"}
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
	out, err := exec.Command("curl", append(args, url)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %s %s: %v\n%s", method, url, err, out)
	}
	r := bufio.NewReader(strings.NewReader(string(out)))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("curl %s %s: reading its header dump: %v\n%s", method, url, err, out)
	}
	return answerOf(resp)
}

// answerOf takes the status and serving pid from a response.
func answerOf(resp *http.Response) Answer {
	pid, _ := strconv.Atoi(resp.Header.Get("X-Server-Pid"))
	return Answer{Status: resp.StatusCode, ServerPID: pid}
}

// Client is Go's net/http client, on one kept-alive connection or a new
// connection per request.
type Client struct {
	c *http.Client
}

// NewClient makes a client; keepAlive holds one connection for every request.
func NewClient(keepAlive bool) *Client {
	tr := &http.Transport{DisableKeepAlives: !keepAlive, MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}
	return &Client{c: &http.Client{Timeout: 20 * time.Second, Transport: tr}}
}

// Do sends one request, reads the whole answer and returns it.
func (c *Client) Do(t testing.TB, method, url, body string, headers map[string]string) Answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return answerOf(resp)
}

// Close drops the idle connection.
func (c *Client) Close() { c.c.CloseIdleConnections() }
