// A stalled output: httptrace's stdout is a pipe whose reader stops
// reading for a while under load.
package hostile

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// The stalled-output case: how long the reader of httptrace's stdout stops
// reading, how long the load runs, and at what rate. A pipeline that stops
// draining the ring while its output blocks fills the 16 MiB ring in about
// 27,000 exchanges, which this load sends within the stall.
const (
	stall       = 3 * time.Second
	stallLoad   = 4 * time.Second
	stallRate   = 12000 // requests/s, over stallWorkers keep-alive clients
	stallWorker = 8
)

// TestStalledOutput loads a traced Go server at a fixed rate while
// httptrace's stdout pipe is not read for the first seconds. The pipeline
// must go on draining the kernel's ring buffer into its output queue
// meanwhile: the kernel side loses no record, and every request is logged
// once the reader reads again.
func TestStalledOutput(t *testing.T) {
	harness.RequireRoot(t)
	srv := harness.StartGoServer(t)
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outR.Close()
	cmd := exec.Command(harness.Bin(t), "--attach", harness.Mode(), "--log-format", "json", "--pid", fmt.Sprint(srv.PID()))
	cmd.Stdout = outW
	errR, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outW.Close()
	defer cmd.Process.Kill()
	stderr := make(chan string, 1024)
	go func() {
		sc := bufio.NewScanner(errR)
		for sc.Scan() {
			stderr <- sc.Text()
		}
		close(stderr)
	}()
	var diag []string
	waitFor := func(msg string, timeout time.Duration) string {
		t.Helper()
		deadline := time.After(timeout)
		for {
			select {
			case l, ok := <-stderr:
				if !ok {
					t.Fatalf("httptrace ended before %q:\n%s", msg, strings.Join(diag, "\n"))
				}
				diag = append(diag, l)
				if strings.Contains(l, msg) {
					return l
				}
			case <-deadline:
				t.Fatalf("no %q within %s:\n%s", msg, timeout, strings.Join(diag, "\n"))
			}
		}
	}
	waitFor(`"msg":"probes attached"`, 60*time.Second)

	// The load, paced; the reader starts after the stall.
	var sent atomic.Int64
	var wg sync.WaitGroup
	begin := time.Now()
	stop := begin.Add(stallLoad)
	every := time.Second * stallWorker / stallRate
	for w := range stallWorker {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			defer c.CloseIdleConnections()
			for i := 0; time.Now().Before(stop); i++ {
				if d := time.Until(begin.Add(time.Duration(i) * every)); d > 0 {
					time.Sleep(d)
				}
				resp, err := c.Get(srv.URL(fmt.Sprintf("/ok/stall-%d-%d", w, i)))
				if err != nil {
					t.Errorf("GET: %v", err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				sent.Add(1)
			}
		}()
	}
	time.Sleep(stall)
	lines := make(chan int)
	go func() {
		n := 0
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"path":"/ok/stall-`) {
				n++
			}
		}
		lines <- n
	}()
	wg.Wait()
	time.Sleep(time.Second) // the last records' poll
	cmd.Process.Signal(syscall.SIGINT)
	line := waitFor(`"msg":"summary:`, 30*time.Second)
	logged := <-lines
	cmd.Wait()
	var sum struct {
		EventsLost  int64 `json:"events_lost"`
		Exchanges   int64 `json:"exchanges"`
		OutputWaits int64 `json:"output_waits"`
	}
	if err := json.Unmarshal([]byte(line), &sum); err != nil {
		t.Fatalf("summary %q: %v", line, err)
	}
	t.Logf("%d requests in %s, %d logged; output stalled %s; summary: %s", sent.Load(), stallLoad, logged, stall, line)
	if sum.EventsLost != 0 {
		t.Errorf("the kernel side lost %d records while the output stalled: %s", sum.EventsLost, line)
	}
	if int64(logged) != sent.Load() {
		t.Errorf("%d requests, %d logged", sent.Load(), logged)
	}
}
