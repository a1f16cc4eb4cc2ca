// The live view (--top), in a real terminal (tmux).
package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// pane is a tmux session running one command.
type pane struct {
	t    *testing.T
	name string
}

// startPane runs cmd in a new detached tmux session of 180x40.
func startPane(t *testing.T, cmd string) *pane {
	t.Helper()
	harness.NeedBinary(t, "tmux")
	p := &pane{t: t, name: fmt.Sprintf("httptrace-top-%d", time.Now().UnixNano())}
	if out, err := exec.Command("tmux", "new-session", "-d", "-s", p.name, "-x", "180", "-y", "40", cmd).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", p.name).Run() })
	return p
}

// screen is what the pane shows.
func (p *pane) screen() string {
	out, err := exec.Command("tmux", "capture-pane", "-p", "-t", p.name).Output()
	if err != nil {
		p.t.Fatalf("tmux capture-pane: %v", err)
	}
	return strings.TrimRight(string(out), "\n")
}

// key types k in the pane.
func (p *pane) key(k string) {
	if out, err := exec.Command("tmux", "send-keys", "-t", p.name, k).CombinedOutput(); err != nil {
		p.t.Fatalf("tmux send-keys: %v: %s", err, out)
	}
}

// waitFor waits until ok holds of the screen; it returns the screen.
func (p *pane) waitFor(what string, timeout time.Duration, ok func(string) bool) string {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := p.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the terminal never showed %s; it shows:\n%s", what, s)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rowOrder is the routes of the view's rows, top first.
func rowOrder(screen string) []string {
	var out []string
	for _, l := range strings.Split(screen, "\n") {
		if f := strings.Fields(l); len(f) >= 10 && f[0] == "nginx" {
			out = append(out, f[2])
		}
	}
	return out
}

// TestTop runs httptrace --top in tmux on nginx serving two routes, one
// failing: the view shows a row per route with its rate and error share
// while traffic flows, the sort keys reorder the rows, the totals add up
// to what was sent, and q ends the tracing with its summary and exit
// status 0.
func TestTop(t *testing.T) {
	harness.RequireRoot(t)
	ngx := harness.StartNginx(t)
	p := startPane(t, fmt.Sprintf("%s --top --attach %s --pid %d; echo EXIT=$?; sleep 600", harness.Bin(t), harness.Mode(), ngx.PID()))
	p.waitFor("the view", 60*time.Second, func(s string) bool { return strings.Contains(s, "SERVICE") })

	// Traffic until the checks below are done: /static/app.js answered
	// 200, /status/500/N answered 500, at about the same rate.
	var sent, failed atomic.Int64
	var wg sync.WaitGroup
	var stopped atomic.Bool
	for _, path := range []string{"/static/app.js", "/status/500/%d"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stopped.Load(); i++ {
				u := path
				if strings.Contains(u, "%d") {
					u = fmt.Sprintf(u, 1000+i)
				}
				resp, err := http.Get(ngx.URL(u))
				if err != nil {
					failed.Add(1)
					continue
				}
				resp.Body.Close()
				sent.Add(1)
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	// While it flows: both rows, the failing one at 100% errors.
	busy := p.waitFor("both routes with traffic", 15*time.Second, func(s string) bool {
		var static, status bool
		for _, l := range strings.Split(s, "\n") {
			f := strings.Fields(l)
			if len(f) < 10 || f[0] != "nginx" || f[3] == "0.0" {
				continue
			}
			static = static || f[2] == "/static/app.js" && f[4] == "0.0"
			status = status || f[2] == "/status/{id}/{id}" && f[4] == "100.0"
		}
		return static && status
	})
	p.key("e")
	byErr := p.waitFor("the rows sorted by errors", 5*time.Second, func(s string) bool {
		o := rowOrder(s)
		return strings.Contains(s, "sorted by err%") && len(o) == 2 && o[0] == "/status/{id}/{id}"
	})
	p.key("n")
	byName := p.waitFor("the rows sorted by name", 5*time.Second, func(s string) bool {
		o := rowOrder(s)
		return strings.Contains(s, "sorted by name") && len(o) == 2 && o[0] == "/static/app.js"
	})
	stopped.Store(true)
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d requests failed", failed.Load())
	}
	total := int(sent.Load())
	// After the traffic: the totals add up to what was sent.
	shown := 0
	p.waitFor(fmt.Sprintf("%d exchanges in all", total), 10*time.Second, func(s string) bool {
		fmt.Sscanf(s, "httptrace top: 2 routes, %d exchanges", &shown)
		return shown == total
	})
	p.key("q")
	end := p.waitFor("the exit", 20*time.Second, func(s string) bool { return strings.Contains(s, "EXIT=") })
	if !strings.Contains(end, "EXIT=0") || !strings.Contains(end, fmt.Sprintf("summary: %d exchanges", total)) {
		t.Errorf("after q the terminal shows:\n%s\nwant the summary of %d exchanges and EXIT=0", end, total)
	}
	t.Logf("while traffic flowed:\n%s\nby errors:\n%s\nby name:\n%s", busy, byErr, byName)
	fmt.Printf("e2e-result: suite=top mode=%s exchanges=%d/%d\n", harness.Mode(), shown, total)
}
