// A traced reverse proxy shows both its sides.
package e2e

import (
	"fmt"
	"testing"

	"github.com/httptrace/httptrace/test/harness"
)

// TestReverseProxy traces nginx forwarding /proxy/ to an untraced Go
// server: each request is logged twice, as nginx's inbound exchange
// (server side, the client's path) and as its upstream call (client side,
// the upstream's path and address), both with the status the client got.
func TestReverseProxy(t *testing.T) {
	up := harness.StartGoServer(t)
	ngx := harness.StartNginxProxy(t, up.Addr)
	tr := trace(t, ngx.PID())

	c := harness.NewClient(true)
	var ids []string
	for i := 0; i < 4; i++ {
		id := harness.NewID("proxy")
		a := c.Do(t, "GET", "http://"+ngx.Addr+"/proxy/ok/"+id, "", map[string]string{harness.IDHeader: id})
		if a.Status != 200 {
			t.Fatalf("GET /proxy/ok/%s through nginx: status %d, want 200", id, a.Status)
		}
		ids = append(ids, id)
	}
	c.Close()
	tr.WaitFor(t, waitForLogs, func(rs []harness.Record) bool { return len(rs) >= 2*len(ids) })
	sum := tr.StopAndSummary(t)
	recs := tr.Records(t)

	good := 0
	for _, id := range ids {
		var in, out []harness.Record
		for _, r := range recs {
			if !harness.Matches(r, id) {
				continue
			}
			if r.Side == "server" {
				in = append(in, r)
			} else {
				out = append(out, r)
			}
		}
		if len(in) != 1 || len(out) != 1 {
			t.Errorf("%s: %d inbound and %d upstream records, want 1 and 1", id, len(in), len(out))
			continue
		}
		var bad []string
		if r := in[0]; r.Path != "/proxy/ok/"+id || r.Status != 200 || r.Server != ngx.Addr || r.Incomplete || r.Unmatched {
			bad = append(bad, "inbound: "+r.Line)
		}
		if r := out[0]; r.Side != "client" || r.Path != "/ok/"+id || r.Status != 200 || r.Server != up.Addr || r.Incomplete || r.Unmatched {
			bad = append(bad, "upstream: "+r.Line)
		}
		if out[0].PID != in[0].PID {
			bad = append(bad, fmt.Sprintf("upstream call from pid %d, inbound served by %d", out[0].PID, in[0].PID))
		}
		for _, b := range bad {
			t.Errorf("%s logged wrong: %s", id, b)
		}
		if len(bad) == 0 {
			good++
		}
	}
	harness.CheckSummary(t, sum, recs)
	fmt.Printf("e2e-result: suite=proxy mode=%s exchanges=%d/%d\n", tr.Mode, 2*good, 2*len(ids))
}
