// Package top is the live terminal view (httptrace --top): the
// aggregation every exporter reads (package aggregate), as one row per
// service, side and route, refreshed each second, like top.
package top

import (
	"cmp"
	"slices"
	"time"

	"github.com/httptrace/httptrace/pkg/aggregate"
	"github.com/httptrace/httptrace/pkg/record"
)

// Row is one service's route on one side, over the last interval.
type Row struct {
	Service string
	Side    record.Side
	Route   string
	Total   uint64  // exchanges since the route's series began
	Rate    float64 // exchanges per second in the interval
	ErrPct  float64 // errors (5xx; a client's 4xx too) in the interval, percent
	// P50, P90 and P99 of the duration in the interval (seconds; 0 with
	// no exchange in it), interpolated within the histogram's buckets.
	P50, P90, P99 float64
	BytesRate     float64 // request and response body bytes per second
}

// rowKey is what one row is of.
type rowKey struct {
	service, route string
	side           record.Side
}

// Rows makes the rows of cur over the interval dt since prev (a snapshot
// of the same aggregation; nil: cur's series are all new).
func Rows(prev, cur []aggregate.Series, dt time.Duration) []Row {
	before := make(map[aggregate.Key]*aggregate.Series, len(prev))
	for i := range prev {
		before[prev[i].Key] = &prev[i]
	}
	type acc struct {
		row    Row
		counts []uint64 // the interval's duration histogram
		bounds []float64
		n, err uint64
		bytes  float64
	}
	rows := map[rowKey]*acc{}
	secs := dt.Seconds()
	for i := range cur {
		s := &cur[i]
		k := rowKey{s.Service, s.Route, s.Side}
		a := rows[k]
		if a == nil {
			a = &acc{row: Row{Service: s.Service, Side: s.Side, Route: s.Route}, bounds: s.Duration.Bounds,
				counts: make([]uint64, len(s.Duration.Counts))}
			rows[k] = a
		}
		a.row.Total += s.Duration.Count
		p := before[s.Key]
		if p != nil && (!p.Created.Equal(s.Created) || p.Duration.Count > s.Duration.Count) {
			p = nil // expired and made again since: all of it is new
		}
		n := s.Duration.Count
		bytes := s.RequestBody.Sum + s.ResponseBody.Sum
		for j, c := range s.Duration.Counts {
			if p != nil && j < len(p.Duration.Counts) {
				c -= min(c, p.Duration.Counts[j])
			}
			a.counts[j] += c
		}
		if p != nil {
			n -= p.Duration.Count
			bytes -= p.RequestBody.Sum + p.ResponseBody.Sum
		}
		a.n += n
		a.bytes += bytes
		if s.Status >= 500 || s.Status >= 400 && s.Side == record.Client {
			a.err += n
		}
	}
	out := make([]Row, 0, len(rows))
	for _, a := range rows {
		r := a.row
		if secs > 0 {
			r.Rate = float64(a.n) / secs
			r.BytesRate = a.bytes / secs
		}
		if a.n > 0 {
			r.ErrPct = 100 * float64(a.err) / float64(a.n)
			r.P50 = quantile(a.bounds, a.counts, a.n, 0.50)
			r.P90 = quantile(a.bounds, a.counts, a.n, 0.90)
			r.P99 = quantile(a.bounds, a.counts, a.n, 0.99)
		}
		out = append(out, r)
	}
	Sort(out, ByRate, false)
	return out
}

// quantile is the q quantile of n observations in buckets (counts[i] at
// most bounds[i], above the bound before; the last above every bound),
// linearly interpolated within its bucket; in the last, open bucket it is
// its lower bound.
func quantile(bounds []float64, counts []uint64, n uint64, q float64) float64 {
	rank := q * float64(n)
	var seen float64
	for i, c := range counts {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo := 0.0
			if i > 0 {
				lo = bounds[i-1]
			}
			if i >= len(bounds) {
				return lo
			}
			return lo + (bounds[i]-lo)*(rank-seen)/float64(c)
		}
		seen += float64(c)
	}
	if len(bounds) == 0 {
		return 0
	}
	return bounds[len(bounds)-1]
}

// Order is what rows are sorted by.
type Order int

// The orders, each a key in the view.
const (
	ByRate    Order = iota // r: exchanges per second
	ByErrors               // e: error percent
	ByLatency              // l: p99
	ByBytes                // b: bytes per second
	ByName                 // n: service, then route
)

// orderNames name the orders in the view's header.
var orderNames = [...]string{ByRate: "req/s", ByErrors: "err%", ByLatency: "p99", ByBytes: "bytes/s", ByName: "name"}

func (o Order) String() string { return orderNames[o] }

// Sort sorts rows by o, the largest first (names: A first), reversed when
// asked; ties by name.
func Sort(rows []Row, o Order, reverse bool) {
	byName := func(a, b Row) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Side, b.Side), cmp.Compare(a.Route, b.Route))
	}
	slices.SortStableFunc(rows, func(a, b Row) int {
		var c int
		switch o {
		case ByRate:
			c = cmp.Compare(b.Rate, a.Rate)
		case ByErrors:
			c = cmp.Compare(b.ErrPct, a.ErrPct)
		case ByLatency:
			c = cmp.Compare(b.P99, a.P99)
		case ByBytes:
			c = cmp.Compare(b.BytesRate, a.BytesRate)
		}
		if c == 0 {
			c = byName(a, b)
		}
		if reverse {
			c = -c
		}
		return c
	})
}
