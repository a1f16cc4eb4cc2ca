// Package aggregate keeps the RED aggregation of exchanges that every
// exporter reads (Prometheus, OTLP metrics, the live view): per service,
// side, method, route, status, scheme and server, a count and histograms
// of duration and body sizes, with OpenTelemetry's names in mind. Routes
// and server names are capped per service and side, a 404 never makes a
// new route, and series not updated for the TTL are dropped, so memory
// stays bounded whatever the clients send.
package aggregate

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/route"
)

// Defaults of Options.
const (
	DefaultMaxRoutes = 200
	DefaultMaxHosts  = 50
	DefaultTTL       = 5 * time.Minute
	// Overflow is the route of a service's paths past MaxRoutes, and of a
	// 404 to a path of no known route.
	Overflow = "/**"
	// Other is the method of requests whose method is not a known one, and
	// the server address past MaxHosts.
	Other = "_OTHER"
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
	// MaxRoutes caps the distinct routes of one service and side.
	MaxRoutes int
	// MaxHosts caps the distinct server addresses (Host headers) of one
	// service and side.
	MaxHosts int
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
	Scheme        string // url.scheme: http or https
	ServerAddress string
	ServerPort    int    // 0: none (a unix socket)
	Proto         string // network.protocol.version: "1.1", "1.0", "2"
	// GRPCStatus is rpc.grpc.status_code for a gRPC call that carried
	// one ("0" OK ... "16"), "" otherwise.
	GRPCStatus string
	// Where the traced process runs: container.id, container.name (when
	// the runtime named it), k8s.pod.uid, and k8s.namespace.name and
	// k8s.pod.name (when the runtime named the pod); empty for a host
	// process.
	ContainerID, ContainerName, PodUID string
	K8sNamespace, K8sPod               string
}

// Histogram counts observations into buckets: Counts[i] those at most
// Bounds[i] and above the bound before (not cumulative), Counts[len(Bounds)]
// those above the last bound.
type Histogram struct {
	Bounds []float64 // shared, never written
	Counts []uint64
	Sum    float64
	Count  uint64
}

func newHistogram(bounds []float64) Histogram {
	return Histogram{Bounds: bounds, Counts: make([]uint64, len(bounds)+1)}
}

func (h *Histogram) observe(v float64) {
	i := 0
	for i < len(h.Bounds) && v > h.Bounds[i] {
		i++
	}
	h.Counts[i]++
	h.Sum += v
	h.Count++
}

// copyInto copies h into dst, reusing dst's slice.
func (h *Histogram) copyInto(dst *Histogram) {
	counts := append(dst.Counts[:0], h.Counts...)
	*dst = *h
	dst.Counts = counts
}

// ErrorType is the series' error.type (record.ErrorType): its status (a
// gRPC status when it is a failure), "" when the exchanges did not fail.
// It is of the key's other labels, so it adds no series.
func (k *Key) ErrorType() string {
	code, err := strconv.Atoi(k.GRPCStatus)
	return record.ErrorType(k.Side, k.Status, err == nil, code)
}

// Series is one key's aggregation.
type Series struct {
	Key
	Duration     Histogram // seconds, from the request's first byte to the response's last
	RequestBody  Histogram // bytes
	ResponseBody Histogram // bytes
	Created      time.Time // when the series began (a counter's start)
	Updated      time.Time
}

// copyInto copies s into dst, reusing dst's slices.
func (s *Series) copyInto(dst *Series) {
	d, q, r := dst.Duration, dst.RequestBody, dst.ResponseBody
	*dst = *s
	dst.Duration, dst.RequestBody, dst.ResponseBody = d, q, r
	s.Duration.copyInto(&dst.Duration)
	s.RequestBody.copyInto(&dst.RequestBody)
	s.ResponseBody.copyInto(&dst.ResponseBody)
}

// Stats are the aggregator's own counts.
type Stats struct {
	Exchanges     uint64 // exchanges aggregated
	Incomplete    uint64 // requests with no response (not in the series)
	Unmatched     uint64 // responses with no request (not in the series)
	Gaps          uint64 // exchanges with bytes never seen
	RouteOverflow uint64 // exchanges whose route was past MaxRoutes
	Route404      uint64 // 404s to a path of no known route (labelled Overflow)
	HostOverflow  uint64 // exchanges whose server address was past MaxHosts
	Series        int    // series held now
	Expired       uint64 // series dropped for the TTL
}

// Aggregator is an output.Sink that aggregates. Write is called from the
// pipeline's goroutine; Each and Stats from any (an exporter's).
type Aggregator struct {
	opts Options

	mu     sync.Mutex
	series map[Key]*Series
	routes map[scope]map[string]*use // route -> its use
	hosts  map[scope]map[server]*use // server address and port -> its use
	stats  Stats
	last   time.Time // last expiry pass
	buf    []byte    // a route being made (Write's)
}

// use is a route or server address in use: its own copy of the name, and
// when it was last used.
type use struct {
	name string
	last time.Time
}

// scope is what the caps are per: a service's side.
type scope struct {
	service string
	side    record.Side
}

// New returns an aggregator with opts, defaults filled in.
func New(opts Options) *Aggregator {
	if opts.Router == nil {
		opts.Router, _ = route.NewRouter(nil)
	}
	if opts.MaxRoutes <= 0 {
		opts.MaxRoutes = DefaultMaxRoutes
	}
	if opts.MaxHosts <= 0 {
		opts.MaxHosts = DefaultMaxHosts
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
	return &Aggregator{opts: opts, series: map[Key]*Series{}, routes: map[scope]map[string]*use{},
		hosts: map[scope]map[server]*use{}}
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
	sc := scope{service: a.opts.Service(e), side: e.Side}
	// Valid UTF-8 before the series is looked up, as it is stored (a
	// process may be named anything); allocates only for a name that is not.
	k := Key{Service: validUTF8(sc.service), Side: e.Side, Method: Method(e.Method), Status: e.Status, Scheme: "http", Proto: ProtoVersion(e.Proto),
		ContainerID: validUTF8(e.ContainerID), ContainerName: validUTF8(e.ContainerName), PodUID: validUTF8(e.PodUID),
		K8sNamespace: validUTF8(e.K8sNamespace), K8sPod: validUTF8(e.K8sPod)}
	if e.GRPCStatusSet && record.GRPCCodeName(e.GRPCStatus) != "" {
		k.GRPCStatus = strconv.Itoa(e.GRPCStatus) // 0-16: no allocation
	}
	if e.TLS {
		k.Scheme = "https"
	}
	host, port := ServerOf(e)
	k.ServerAddress, k.ServerPort = a.server(sc, host, port, now)
	k.Route = a.route(sc, e, now)
	s := a.series[k]
	if s == nil {
		// Keys outlive the exchange: their strings must not hold on to
		// its buffers, and must be valid UTF-8 (a label value is).
		k.Service, k.Route, k.ServerAddress = label(k.Service), label(k.Route), label(k.ServerAddress)
		k.ContainerID, k.ContainerName, k.PodUID = label(k.ContainerID), label(k.ContainerName), label(k.PodUID)
		k.K8sNamespace, k.K8sPod = label(k.K8sNamespace), label(k.K8sPod)
		s = &Series{Key: k, Duration: newHistogram(DurationBounds), RequestBody: newHistogram(SizeBounds),
			ResponseBody: newHistogram(SizeBounds), Created: now}
		a.series[k] = s
	}
	s.Updated = now
	switch {
	case e.ResponseEndNs > e.RequestStartNs && e.RequestStartNs > 0:
		s.Duration.observe(float64(e.ResponseEndNs-e.RequestStartNs) / 1e9)
	default:
		s.Duration.observe(float64(e.LatencyNs) / 1e9)
	}
	s.RequestBody.observe(float64(e.RequestBodyBytes))
	s.ResponseBody.observe(float64(e.ResponseBodyBytes))
	if now.Sub(a.last) > a.opts.TTL/10 {
		a.expire(now)
	}
	return nil
}

// label is s as a label value that owns its bytes: valid UTF-8 (a
// client's bytes may not be), copied.
func label(s string) string {
	if !utf8.ValidString(s) {
		return validUTF8(s)
	}
	return strings.Clone(s)
}

// validUTF8 is s with each invalid byte U+FFFD: s itself when it is valid.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Flush implements output.Sink: nothing is buffered.
func (a *Aggregator) Flush() error { return nil }

// route is the exchange's route in its scope: Overflow past the cap, or
// for a 404 to a path of no known route (a scanner's would fill the cap).
// A known route is found without allocating.
func (a *Aggregator) route(sc scope, e *record.Exchange, now time.Time) string {
	a.buf = a.opts.Router.AppendRoute(a.buf[:0], e.Path)
	seen := a.routes[sc]
	if seen == nil {
		seen = map[string]*use{}
		a.routes[sc] = seen
	}
	if u, ok := seen[string(a.buf)]; ok {
		u.last = now
		return u.name
	}
	switch {
	case e.Status == 404:
		a.stats.Route404++
		return Overflow
	case len(seen) >= a.opts.MaxRoutes:
		a.stats.RouteOverflow++
		return Overflow
	}
	u := &use{name: label(string(a.buf)), last: now}
	seen[string(a.buf)] = u
	return u.name
}

// host is the server address in its scope: Other past the cap.
func (a *Aggregator) server(sc scope, h string, port int, now time.Time) (string, int) {
	seen := a.hosts[sc]
	if seen == nil {
		seen = map[server]*use{}
		a.hosts[sc] = seen
	}
	if u, ok := seen[server{h, port}]; ok {
		u.last = now
		return u.name, port
	}
	// The cap counts address and port together: a client's Host header
	// chooses both.
	if len(seen) >= a.opts.MaxHosts {
		a.stats.HostOverflow++
		return Other, 0
	}
	u := &use{name: label(h), last: now}
	seen[server{strings.Clone(h), port}] = u
	return u.name, port
}

// server is a server address and port, as the capped set keys them.
type server struct {
	host string
	port int
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
	expireUses(a.routes, now, a.opts.TTL)
	expireUses(a.hosts, now, a.opts.TTL)
}

// expireUses drops the uses (routes, servers) not made for ttl.
func expireUses[K comparable](m map[scope]map[K]*use, now time.Time, ttl time.Duration) {
	for sc, seen := range m {
		for k, u := range seen {
			if now.Sub(u.last) > ttl {
				delete(seen, k)
			}
		}
		if len(seen) == 0 {
			delete(m, sc)
		}
	}
}

// Snapshot copies every live series into dst (reusing its slices) and
// returns it: the exporters read the copy, so the pipeline's Write waits
// only for the copying.
func (a *Aggregator) Snapshot(dst []Series) []Series {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.expire(a.opts.Now())
	n := 0
	for _, s := range a.series {
		if n == len(dst) {
			dst = append(dst, Series{})
		}
		s.copyInto(&dst[n])
		n++
	}
	return dst[:n]
}

// Stats returns the aggregator's counts.
func (a *Aggregator) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.stats
	st.Series = len(a.series)
	return st
}

// knownMethods are the methods kept as they are; others are Other, so a
// client cannot make series of its own. The values are the constants the
// keys hold (not slices of a request).
var knownMethods = map[string]string{"GET": "GET", "HEAD": "HEAD", "POST": "POST", "PUT": "PUT", "DELETE": "DELETE",
	"CONNECT": "CONNECT", "OPTIONS": "OPTIONS", "TRACE": "TRACE", "PATCH": "PATCH", "QUERY": "QUERY"}

// Method is m when it is a known method, else Other.
func Method(m string) string {
	if k, ok := knownMethods[m]; ok {
		return k
	}
	return Other
}

// ProtoVersion is network.protocol.version of "HTTP/1.1": "1.1".
func ProtoVersion(p string) string {
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

// hostPort splits a Host header's (or :authority's) value: its host in
// lower case, and its port, else the scheme's.
func hostPort(e *record.Exchange, v string) (string, int) {
	host, port := v, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		var err error
		if host, port, err = net.SplitHostPort(v); err != nil {
			host, port = v, ""
		}
	}
	host = strings.Trim(host, "[]")
	n := 0
	if port != "" {
		n, _ = strconv.Atoi(port)
	}
	if n == 0 {
		n = 80
		if e.TLS {
			n = 443
		}
	}
	return lower(host), n
}

// lower is s in ASCII lower case, allocating only when it changes.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// ServerOf is the server's address and port as the client named it: the
// Host header's (the port the scheme implies when it names none), else
// the socket's.
func ServerOf(e *record.Exchange) (string, int) {
	if e.Authority != "" { // HTTP/2's :authority is its Host header
		return hostPort(e, e.Authority)
	}
	if v := record.HeaderValue(e.Headers, "Host"); v != "" {
		return hostPort(e, v)
	}
	host, port, err := net.SplitHostPort(e.Server)
	if err != nil {
		return e.Server, 0 // a unix socket's path
	}
	n, _ := strconv.Atoi(port)
	return host, n
}
