package top

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/aggregate"
	"github.com/httptrace/httptrace/pkg/record"
)

// exchange is a server exchange of path with status that took d.
func exchange(comm, path string, status int, d time.Duration, body uint64) *record.Exchange {
	return &record.Exchange{Comm: comm, Side: record.Server, Method: "GET", Path: path, Proto: "HTTP/1.1", Server: "127.0.0.1:80",
		Client: "127.0.0.1:5000", Status: status, RequestStartNs: 1, ResponseEndNs: 1 + uint64(d), ResponseBodyBytes: body}
}

// TestRows: rows per service and route over the interval: the rate and
// the error share of what came since the last snapshot, the percentiles
// of its durations, the body bytes per second, and the totals.
func TestRows(t *testing.T) {
	agg := aggregate.New(aggregate.Options{})
	for i := range 10 {
		agg.Write(exchange("nginx", fmt.Sprintf("/users/%d", i), 200, 3*time.Millisecond, 100))
	}
	prev := agg.Snapshot(nil)
	// The interval: 90 fast 200s and 10 slow 500s on one route, 20 on another.
	for i := range 90 {
		agg.Write(exchange("nginx", fmt.Sprintf("/users/%d", i), 200, 3*time.Millisecond, 100))
	}
	for i := range 10 {
		agg.Write(exchange("nginx", fmt.Sprintf("/users/%d", i), 500, 900*time.Millisecond, 0))
	}
	for range 20 {
		agg.Write(exchange("api", "/health", 200, 8*time.Millisecond, 2))
	}
	rows := Rows(prev, agg.Snapshot(nil), 2*time.Second)
	if len(rows) != 2 {
		t.Fatalf("%d rows, want 2: %+v", len(rows), rows)
	}
	u, h := rows[0], rows[1] // by rate: 50/s, then 10/s
	if u.Service != "nginx" || u.Route != "/users/{id}" || u.Total != 110 || u.Rate != 50 || u.ErrPct != 10 || u.BytesRate != 4500 {
		t.Errorf("users row %+v: want 110 in all, 50/s, 10%% errors, 4500 B/s", u)
	}
	// p50 and p90 among the 90 of 3 ms (bucket 0 to 5 ms), p99 among the
	// 10 of 900 ms (bucket 750 ms to 1 s).
	if u.P50 <= 0 || u.P50 > 0.005 || u.P90 > 0.005 || u.P99 <= 0.75 || u.P99 > 1 {
		t.Errorf("users percentiles %v %v %v", u.P50, u.P90, u.P99)
	}
	if h.Service != "api" || h.Route != "/health" || h.Rate != 10 || h.ErrPct != 0 || h.Total != 20 || h.P50 <= 0.005 || h.P50 > 0.01 {
		t.Errorf("health row %+v", h)
	}
	// Nothing new: rates and percentiles are zero, totals stay.
	cur := agg.Snapshot(nil)
	idle := Rows(cur, cur, time.Second)
	if len(idle) != 2 {
		t.Fatalf("%d idle rows, want 2", len(idle))
	}
	for _, r := range idle {
		if r.Rate != 0 || r.P99 != 0 || r.Total == 0 {
			t.Errorf("idle row %+v", r)
		}
	}
}

// TestQuantile: interpolated within the bucket; the open bucket is its
// lower bound.
func TestQuantile(t *testing.T) {
	bounds := []float64{1, 2, 4}
	counts := []uint64{0, 10, 0, 0}
	if q := quantile(bounds, counts, 10, 0.5); math.Abs(q-1.5) > 1e-9 {
		t.Errorf("median of 10 in (1, 2] is %v, want 1.5", q)
	}
	if q := quantile(bounds, []uint64{0, 0, 0, 3}, 3, 0.99); q != 4 {
		t.Errorf("p99 in the open bucket is %v, want its lower bound 4", q)
	}
}

// TestSort: each order, the largest first, reversed on request, ties by name.
func TestSort(t *testing.T) {
	rows := []Row{
		{Service: "b", Route: "/x", Rate: 5, ErrPct: 50, P99: 0.1, BytesRate: 10},
		{Service: "a", Route: "/y", Rate: 9, ErrPct: 0, P99: 0.9, BytesRate: 1},
		{Service: "a", Route: "/x", Rate: 5, ErrPct: 1, P99: 0.5, BytesRate: 100},
	}
	order := func() string {
		s := ""
		for _, r := range rows {
			s += r.Service + r.Route + " "
		}
		return s
	}
	for _, c := range []struct {
		o       Order
		reverse bool
		want    string
	}{
		{ByRate, false, "a/y a/x b/x "},
		{ByErrors, false, "b/x a/x a/y "},
		{ByLatency, false, "a/y a/x b/x "},
		{ByBytes, false, "a/x b/x a/y "},
		{ByName, false, "a/x a/y b/x "},
		{ByName, true, "b/x a/y a/x "},
	} {
		Sort(rows, c.o, c.reverse)
		if got := order(); got != c.want {
			t.Errorf("by %s (reversed %v): %s, want %s", c.o, c.reverse, got, c.want)
		}
	}
}

// TestRowsReset: a series made again since the last snapshot (expired,
// then used) counts whole, however its count compares; a client's 4xx is
// an error.
func TestRowsReset(t *testing.T) {
	agg := aggregate.New(aggregate.Options{})
	agg.Write(exchange("app", "/a", 200, time.Millisecond, 0))
	prev := agg.Snapshot(nil)
	prev[0].Created = prev[0].Created.Add(-time.Hour) // an older series of the same key
	prev[0].Duration.Count = 1
	e := exchange("app", "/a", 200, time.Millisecond, 0)
	agg.Write(e)
	c := exchange("app", "/b", 404, time.Millisecond, 0)
	c.Side = record.Client
	agg.Write(c)
	rows := Rows(prev, agg.Snapshot(nil), time.Second)
	for _, r := range rows {
		switch r.Route {
		case "/a":
			if r.Rate != 2 {
				t.Errorf("remade series: rate %v, want 2 (all of it new)", r.Rate)
			}
		case "/b":
			if r.ErrPct != 100 {
				t.Errorf("client 404: %v%% errors, want 100", r.ErrPct)
			}
		}
	}
}
