package harness

import (
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"testing"
	"time"
)

// Get sends a GET with the given headers, with curl where it is installed
// (as users do) and Go's client where it is not (the matrix guests), and
// fails the test unless the answer is 200.
func Get(t testing.TB, url string, headers map[string]string) {
	t.Helper()
	if curl, err := exec.LookPath("curl"); err == nil {
		args := []string{"-sS", "--max-time", "20", "-o", "/dev/null", "-w", "%{http_code}"}
		for k, v := range headers {
			args = append(args, "-H", fmt.Sprintf("%s: %s", k, v))
		}
		out, err := exec.Command(curl, append(args, url)...).CombinedOutput()
		if err != nil || string(out) != "200" {
			t.Fatalf("curl %s: %v %s", url, err, out)
		}
		return
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: status %d", url, resp.StatusCode)
	}
}
