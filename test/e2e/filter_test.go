// Filters: which finished exchanges are written, each counted either way.
package e2e

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/test/harness"
)

// TestFilters traces one Go server with five httptrace processes at once,
// each with other filters, and sends one mixed workload (statuses 200, 404
// and 503, a slow answer, a POST and a HEAD, three Host names, and a
// request the server answers by calling an nginx: a client-side exchange
// too). Each tracer must write exactly the exchanges its filter asks for,
// and its summary must count every exchange and, as filtered_out, the
// others.
func TestFilters(t *testing.T) {
	harness.RequireRoot(t)
	harness.NeedBinary(t, "curl")
	g := harness.StartGoServer(t)
	upstream := harness.StartNginx(t)
	type req struct {
		name, method, path, host string
	}
	reqs := []req{
		{"ok", "GET", "/ok/", "a.example"},
		{"missing", "GET", "/status/404/", "b.example"},
		{"unavailable", "GET", "/status/503/", "b.example:8080"},
		{"post", "POST", "/post/", "a.example"},
		{"slow", "GET", "/slow?id=", "b.example"},
		{"head", "HEAD", "/ok/", "c.example"},
		{"call", "GET", "/call/" + upstream.Addr + "/static/", "a.example"},
	}
	filters := []struct {
		args []string
		want []string // names of reqs written
	}{
		{[]string{"--status", "5xx,404"}, []string{"missing", "unavailable"}},
		{[]string{"--min-latency", "200ms"}, []string{"slow"}},
		{[]string{"--path", "/ok/*", "--method", "GET,HEAD"}, []string{"ok", "head"}},
		{[]string{"--host", "b.example", "--side", "server"}, []string{"missing", "unavailable", "slow"}},
		{[]string{"--side", "client"}, []string{"call-upstream"}},
	}
	written, wanted := 0, 0
	var tracers []*harness.Tracer
	for _, f := range filters {
		tracers = append(tracers, harness.StartTracer(t, harness.Mode(), []int{g.PID()}, f.args...))
	}
	ids := map[string]string{} // id -> request name
	var sent []harness.Sent
	for _, r := range reqs {
		id := harness.NewID("filter-" + r.name)
		path := r.path + id
		body := ""
		if r.method == "POST" {
			body = "payload"
		}
		ans := harness.Curl(t, r.method, "http://"+g.Addr+path, body, map[string]string{harness.IDHeader: id, "Host": r.host})
		ids[id] = r.name
		sent = append(sent, harness.Sent{ID: id, Method: r.method, Path: path, Answer: ans})
	}
	// The Go server's own call to the nginx: logged from its client side,
	// with the id in the path only.
	total := len(reqs) + 1
	nameOf := func(r harness.Record) string {
		if name := ids[r.Header(harness.IDHeader)]; name != "" {
			return name
		}
		for id, name := range ids {
			if name == "call" && r.Side == "client" && strings.HasSuffix(r.Path, "/static/"+id) {
				return "call-upstream"
			}
		}
		return ""
	}
	for i, f := range filters {
		tr := tracers[i]
		tr.WaitFor(t, waitForLogs, func(recs []harness.Record) bool { return len(recs) >= len(f.want) })
		sum := tr.StopAndSummary(t)
		recs := tr.Records(t)
		var got []string
		for _, r := range recs {
			name := nameOf(r)
			got = append(got, name)
			if name == "" {
				t.Errorf("%v: wrote an exchange of no request sent: %s", f.args, r.Line)
			}
		}
		sort.Strings(got)
		wantNames := slices.Clone(f.want)
		sort.Strings(wantNames)
		if !slices.Equal(got, wantNames) {
			t.Errorf("%v wrote %v, want %v", f.args, got, wantNames)
		} else {
			written += len(got)
		}
		wanted += len(wantNames)
		if out := summaryCount(sum.Line, "filtered_out"); sum.Exchanges != total || out != total-len(f.want) ||
			!strings.Contains(sum.Line, "filtered out") {
			t.Errorf("%v: summary exchanges=%d filtered_out=%d, want %d and %d: %s", f.args, sum.Exchanges, out,
				total, total-len(f.want), sum.Line)
		}
	}
	fmt.Printf("e2e-result: suite=filters mode=%s written=%d/%d\n", tracers[0].Mode, written, wanted)
}
