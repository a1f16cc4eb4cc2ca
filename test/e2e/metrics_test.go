// Export: the aggregation served to a real Prometheus.
package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// TestPrometheus traces nginx with --metrics-addr while Debian's
// Prometheus scrapes httptrace every second, sends a known mix, and asks
// Prometheus (its HTTP query API) for the counts per route and status:
// they must be exact. Routes come from a configured template (/static/*)
// and from the ID heuristic (/status/200/1001 is /status/{id}/{id}: a
// number is an ID).
func TestPrometheus(t *testing.T) {
	ngx := harness.StartNginx(t)
	metricsAddr := harness.FreeAddr(t)
	conf := filepath.Join(t.TempDir(), "httptrace.yaml")
	if err := os.WriteFile(conf, []byte("routes:\n  patterns: [\"/static/*\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	harness.RequireRoot(t)
	tr := harness.StartTracer(t, harness.Mode(), []int{ngx.PID()}, "-c", conf, "--metrics-addr", metricsAddr)
	prom := harness.StartPrometheus(t, metricsAddr)

	want := map[string]int{}
	get := func(path string, status int, route string) {
		resp, err := http.Get(ngx.URL(path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status {
			t.Fatalf("GET %s: %d, want %d", path, resp.StatusCode, status)
		}
		want[fmt.Sprintf("%s %d", route, status)]++
	}
	for i := 0; i < 6; i++ {
		get(fmt.Sprintf("/status/200/%d", 1000+i), 200, "/status/{id}/{id}")
	}
	for i := 0; i < 3; i++ {
		get(fmt.Sprintf("/status/404/%d", 2000+i), 404, "/status/{id}/{id}")
	}
	for i := 0; i < 2; i++ {
		get(fmt.Sprintf("/status/500/%d", 3000+i), 500, "/status/{id}/{id}")
	}
	get("/static/app.js", 200, "/static/*")
	get("/static/css/site.css?v=3", 200, "/static/*")
	total := 13

	const q = `sum by (http_route, http_response_status_code) (http_server_request_duration_seconds_count{service_name="nginx"})`
	var got map[string]int
	deadline := time.Now().Add(30 * time.Second)
	for {
		got = map[string]int{}
		for _, s := range prom.Query(t, q) {
			var n int
			fmt.Sscanf(s.Value, "%d", &n)
			got[s.Labels["http_route"]+" "+s.Labels["http_response_status_code"]] = n
		}
		if fmt.Sprint(got) == fmt.Sprint(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Prometheus has %v, want %v", got, want)
	}
	// error.type is on the 500s' series alone (a server's 404 is no error).
	failed := prom.Query(t, `sum by (http_response_status_code, error_type) (http_server_request_duration_seconds_count{service_name="nginx",error_type!=""})`)
	if len(failed) != 1 || failed[0].Labels["error_type"] != "500" || failed[0].Labels["http_response_status_code"] != "500" || failed[0].Value != "2" {
		t.Errorf("series with error_type: %+v, want the two 500s'", failed)
	}
	health := map[string]string{}
	for _, name := range []string{"httptrace_exchanges_total", "httptrace_events_lost_total", "httptrace_route_overflow_total"} {
		if s := prom.Query(t, name); len(s) == 1 {
			health[name] = s[0].Value
		}
	}
	if health["httptrace_exchanges_total"] != fmt.Sprint(total) || health["httptrace_events_lost_total"] != "0" || health["httptrace_route_overflow_total"] != "0" {
		t.Errorf("health in Prometheus: %v, want %d exchanges, none lost, no overflow", health, total)
	}
	sum := tr.StopAndSummary(t)
	if !strings.Contains(strings.Join(tr.Stderr(), "\n"), "serving Prometheus metrics") {
		t.Errorf("no log line for the metrics endpoint: %s", sum.Line)
	}
	fmt.Printf("e2e-result: suite=metrics mode=%s exchanges=%d/%d\n", tr.Mode, sumOf(got), total)
}

func sumOf(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
