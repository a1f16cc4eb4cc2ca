// Package aggregate keeps the RED aggregation of exchanges that every
// exporter reads (Prometheus, OTLP metrics, the live view): per service,
// side, method, route, status and server, a count and histograms of
// duration and body sizes, with OpenTelemetry's names in mind. Routes
// come from package route and are capped per service; series not updated
// for the TTL are dropped, so memory stays bounded whatever the paths.
package aggregate

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/route"
)

// Defaults of Options.
const (
	DefaultMaxRoutes = 200
	DefaultTTL       = 5 * time.Minute
	// Overflow is the route of a service's paths past MaxRoutes.
	Overflow = "/**"
	// OtherMethod is the method of requests whose method is not a known one.
	OtherMethod = "_OTHER"
)

// DurationBounds are the upper bounds of the duration histogram's buckets,
// in seconds: those OpenTelemetry's HTTP semantic conventions advise.
var DurationBounds = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// SizeBounds are the upper bounds of the body size histograms' buckets,
// in bytes (the conventions advise none): powers of four from 64 B to 16 MiB.
var SizeBounds = []float64{0, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216}

// Options configure an Aggregator.
type Options struct {
	// Router gives each path its route (nil: the ID heuristic only).
	Router *route.Router
	// MaxRoutes caps the distinct routes of one service.
	MaxRoutes int
	// TTL drops series (and routes) not updated for this long.
	TTL time.Duration
	// Service names an exchange's service (nil: its process's comm).
	Service func(e *record.Exchange) string
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Key is what one series is of: the labels every exporter uses.
type Key struct {
	Service       string
	Side          record.Side
	Method        string
	Route         string
	Status        int
	ServerAddress string
	ServerPort    int
	Proto         string // network.protocol.version: "1.1", "1.0", "2"
}

// Histogram counts observations into buckets with DurationBounds or
// SizeBounds; Counts has one more slot than the bounds, for +Inf.
type Histogram struct {
	Counts []uint64
	Sum    float64
	Count  uint64
}

func newHistogram(bounds []float64) Histogram {
	return Histogram{Counts: make([]uint64, len(bounds)+1)}
}

func (h *Histogram) observe(bounds []float64, v float64) {
	i := 0
	for i < len(bounds) && v > bounds[i] {
		i++
	}
	h.Counts[i]++
	h.Sum += v
	h.Count++
}

// Series is one key's aggregation.
type Series struct {
	Key
	Duration     Histogram // seconds, from the request's first byte to the response's last
	RequestBody  Histogram // bytes
	ResponseBody Histogram // bytes
	Updated      time.Time
}

// Stats are the aggregator's own counts.
type Stats struct {
	Exchanges     uint64 // exchanges aggregated
	Incomplete    uint64 // requests with no response (not in the series)
	Unmatched     uint64 // responses with no request (not in the series)
	Gaps          uint64 // exchanges with bytes never seen
	RouteOverflow uint64 // exchanges whose route was past MaxRoutes
	Series        int    // series held now
	Expired       uint64 // series dropped for the TTL
}

// Aggregator is an output.Sink that aggregates. Write is called from the
// pipeline's goroutine; Each and Stats from any (an exporter's).
type Aggregator struct {
	opts Options

	mu     sync.Mutex
	series map[Key]*Series
	routes map[string]map[string]time.Time // service -> route -> last use
	stats  Stats
	last   time.Time // last expiry pass
}

// New returns an aggregator with opts, defaults filled in.
func New(opts Options) *Aggregator {
	if opts.Router == nil {
		opts.Router, _ = route.NewRouter(nil)
	}
	if opts.MaxRoutes <= 0 {
		opts.MaxRoutes = DefaultMaxRoutes
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.Service == nil {
		opts.Service = func(e *record.Exchange) string { return e.Comm }
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Aggregator{opts: opts, series: map[Key]*Series{}, routes: map[string]map[string]time.Time{}}
}

// Write aggregates one exchange (output.Sink).
func (a *Aggregator) Write(e *record.Exchange) error {
	now := a.opts.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if e.Gap {
		a.stats.Gaps++
	}
	switch {
	case e.Unmatched:
		a.stats.Unmatched++
		return nil
	case e.Incomplete || e.Status == 0:
		a.stats.Incomplete++
		return nil
	}
	a.stats.Exchanges++
	k := Key{Service: a.opts.Service(e), Side: e.Side, Method: Method(e.Method), Status: e.Status, Proto: protoVersion(e.Proto)}
	k.ServerAddress, k.ServerPort = ServerOf(e)
	k.Route = a.route(k.Service, e.Path, now)
	s := a.series[k]
	if s == nil {
		s = &Series{Key: k, Duration: newHistogram(DurationBounds), RequestBody: newHistogram(SizeBounds), ResponseBody: newHistogram(SizeBounds)}
		a.series[k] = s
	}
	s.Updated = now
	if e.ResponseEndNs > e.RequestStartNs && e.RequestStartNs > 0 {
		s.Duration.observe(DurationBounds, float64(e.ResponseEndNs-e.RequestStartNs)/1e9)
	} else {
		s.Duration.observe(DurationBounds, 0)
	}
	s.RequestBody.observe(SizeBounds, float64(e.RequestBodyBytes))
	s.ResponseBody.observe(SizeBounds, float64(e.ResponseBodyBytes))
	if now.Sub(a.last) > a.opts.TTL/10 {
		a.expire(now)
	}
	return nil
}

// Flush implements output.Sink: nothing is buffered.
func (a *Aggregator) Flush() error { return nil }

// route is path's route for service, past the cap Overflow.
func (a *Aggregator) route(service, path string, now time.Time) string {
	r := a.opts.Router.Route(path)
	seen := a.routes[service]
	if seen == nil {
		seen = map[string]time.Time{}
		a.routes[service] = seen
	}
	if _, ok := seen[r]; !ok && len(seen) >= a.opts.MaxRoutes {
		a.stats.RouteOverflow++
		return Overflow
	}
	seen[r] = now
	return r
}

// expire drops the series and routes not updated for the TTL.
func (a *Aggregator) expire(now time.Time) {
	a.last = now
	for k, s := range a.series {
		if now.Sub(s.Updated) > a.opts.TTL {
			delete(a.series, k)
			a.stats.Expired++
		}
	}
	for service, seen := range a.routes {
		for r, at := range seen {
			if now.Sub(at) > a.opts.TTL {
				delete(seen, r)
			}
		}
		if len(seen) == 0 {
			delete(a.routes, service)
		}
	}
}

// Each calls fn for every live series, with the aggregation locked: fn
// must copy what it keeps and not call back.
func (a *Aggregator) Each(fn func(s *Series)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.expire(a.opts.Now())
	for _, s := range a.series {
		fn(s)
	}
}

// Stats returns the aggregator's counts.
func (a *Aggregator) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.stats
	st.Series = len(a.series)
	return st
}

// knownMethods are the methods kept as they are; others are OtherMethod,
// so a client cannot make series of its own.
var knownMethods = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true,
	"CONNECT": true, "OPTIONS": true, "TRACE": true, "PATCH": true, "QUERY": true}

// Method is m when it is a known method, else OtherMethod.
func Method(m string) string {
	if knownMethods[m] {
		return m
	}
	return OtherMethod
}

// protoVersion is network.protocol.version of "HTTP/1.1": "1.1".
func protoVersion(p string) string {
	v := strings.TrimPrefix(p, "HTTP/")
	switch v {
	case "1.1", "1.0", "2", "2.0", "0.9":
		if v == "2.0" {
			return "2"
		}
		return v
	}
	return ""
}

// ServerOf is the server's address and port as the client named it: the
// Host header's (the port the scheme implies when it names none), else
// the socket's.
func ServerOf(e *record.Exchange) (string, int) {
	for _, h := range e.Headers {
		if len(h.Name) == 4 && strings.EqualFold(h.Name, "Host") && h.Value != "" {
			host, port, err := net.SplitHostPort(h.Value)
			if err != nil {
				host, port = strings.Trim(h.Value, "[]"), ""
			}
			n, _ := strconv.Atoi(port)
			if n == 0 {
				n = 80
				if e.TLS {
					n = 443
				}
			}
			return strings.ToLower(host), n
		}
	}
	host, port, err := net.SplitHostPort(e.Server)
	if err != nil {
		return e.Server, 0 // a unix socket's path
	}
	n, _ := strconv.Atoi(port)
	return host, n
}
