package aggregate

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/route"
)

// clock is a settable Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func exchange(method, path string, status int, durMs uint64) *record.Exchange {
	return &record.Exchange{Comm: "nginx", Side: record.Server, Method: method, Path: path, Proto: "HTTP/1.1",
		Status: status, Server: "127.0.0.1:8080", Client: "127.0.0.1:50000",
		Headers:        []record.Header{{Name: "host", Value: "example.com:8080"}},
		RequestStartNs: 1_000_000, ResponseEndNs: 1_000_000 + durMs*1_000_000, RequestBodyBytes: 10, ResponseBodyBytes: 300}
}

func series(a *Aggregator) map[Key]Series {
	out := map[Key]Series{}
	for _, s := range a.Snapshot(nil) {
		out[s.Key] = s
	}
	return out
}

// key is the key of exchange()'s series with route, status and method.
func key(method, route string, status int) Key {
	return Key{Service: "nginx", Side: record.Server, Method: method, Route: route, Status: status, Scheme: "http",
		ServerAddress: "example.com", ServerPort: 8080, Proto: "1.1"}
}

func TestAggregate(t *testing.T) {
	r, err := route.NewRouter([]string{"/static/*"})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{time.Unix(1000, 0)}
	a := New(Options{Router: r, Now: c.now})
	for _, e := range []*record.Exchange{
		exchange("GET", "/users/1", 200, 3), exchange("GET", "/users/2?x=y", 200, 30), exchange("GET", "/users/3", 404, 1),
		exchange("GET", "/static/app.js", 200, 2), exchange("BREW", "/pot", 418, 2),
		{Comm: "nginx", Side: record.Server, Method: "GET", Path: "/x", Incomplete: true},
		{Comm: "nginx", Side: record.Server, Status: 200, Unmatched: true, Gap: true},
	} {
		if err := a.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	k := key("GET", "/users/{id}", 200)
	got := series(a)
	s, ok := got[k]
	if !ok {
		t.Fatalf("no series %+v in %+v", k, got)
	}
	if !s.Created.Equal(c.t) {
		t.Errorf("created %v, want %v", s.Created, c.t)
	}
	// 3 ms falls in the 5 ms bucket, 30 ms in the 50 ms one.
	if s.Duration.Count != 2 || s.Duration.Counts[0] != 1 || s.Duration.Counts[3] != 1 || s.Duration.Sum < 0.0329 || s.Duration.Sum > 0.0331 {
		t.Errorf("duration %+v, want 2: one <=5ms, one <=50ms, sum 33ms", s.Duration)
	}
	if s.ResponseBody.Count != 2 || s.ResponseBody.Sum != 600 || s.ResponseBody.Counts[3] != 2 || s.RequestBody.Counts[1] != 2 {
		t.Errorf("bodies %+v %+v, want two 10 B requests (<=64) and two 300 B responses (<=1024)", s.RequestBody, s.ResponseBody)
	}
	for _, want := range []Key{key("GET", "/users/{id}", 404), key("GET", "/static/*", 200), key(Other, "/pot", 418)} {
		if _, ok := got[want]; !ok {
			t.Errorf("no series %+v", want)
		}
	}
	if len(got) != 4 {
		t.Errorf("%d series, want 4: %+v", len(got), got)
	}
	if st := a.Stats(); st.Exchanges != 5 || st.Incomplete != 1 || st.Unmatched != 1 || st.Gaps != 1 || st.Series != 4 {
		t.Errorf("stats %+v", st)
	}
}

// Series and routes not updated for the TTL go; a route's place is free
// again once it has gone.
func TestTTL(t *testing.T) {
	c := &clock{time.Unix(1000, 0)}
	a := New(Options{Now: c.now, TTL: time.Minute, MaxRoutes: 1})
	a.Write(exchange("GET", "/a", 200, 1))
	a.Write(exchange("GET", "/b", 200, 1))
	if st := a.Stats(); st.RouteOverflow != 1 {
		t.Fatalf("stats %+v, want /b past the cap of 1", st)
	}
	c.t = c.t.Add(30 * time.Second)
	a.Write(exchange("GET", "/a", 200, 1))
	c.t = c.t.Add(45 * time.Second) // /a 45 s old, /** 75 s
	got := series(a)
	if len(got) != 1 {
		t.Fatalf("after the TTL: %+v, want /a only", got)
	}
	c.t = c.t.Add(time.Minute)
	if got := series(a); len(got) != 0 {
		t.Fatalf("after the TTL again: %+v, want none", got)
	}
	a.Write(exchange("GET", "/b", 200, 1))
	if _, ok := series(a)[key("GET", "/b", 200)]; !ok {
		t.Errorf("/b not its own route once /a expired: %+v", series(a))
	}
	if st := a.Stats(); st.Expired != 2 {
		t.Errorf("stats %+v, want 2 expired (/** and /a)", st)
	}
}

// 10,000 distinct paths that are not ID-like: at most MaxRoutes routes
// (and /**), the rest counted; 100,000 more keep the memory flat.
func TestCardinality(t *testing.T) {
	a := New(Options{})
	word := func(i int) string { // letters only: no ID heuristic applies
		b := []byte("/p/")
		for ; i > 0; i /= 26 {
			b = append(b, byte('a'+i%26))
		}
		return string(b)
	}
	for i := 1; i <= 10_000; i++ {
		a.Write(exchange("GET", word(i), 200, 1))
	}
	st := a.Stats()
	if st.Series != DefaultMaxRoutes+1 || st.RouteOverflow != 10_000-DefaultMaxRoutes {
		t.Fatalf("stats %+v, want %d series (%d routes and /**) and %d overflowed", st, DefaultMaxRoutes+1, DefaultMaxRoutes, 10_000-DefaultMaxRoutes)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for i := 10_001; i <= 110_000; i++ {
		a.Write(exchange("GET", word(i), 200, 1))
	}
	after := heap()
	if after > before+512<<10 {
		t.Errorf("heap grew from %d to %d bytes over 100,000 more distinct paths", before, after)
	}
	if st := a.Stats(); st.Series != DefaultMaxRoutes+1 {
		t.Errorf("%d series after 110,000 paths", st.Series)
	}
}

func TestServerOf(t *testing.T) {
	for _, c := range []struct {
		host, server string
		tls          bool
		addr         string
		port         int
	}{
		{"api.example.com:8443", "10.0.0.1:8443", true, "api.example.com", 8443},
		{"API.example.com", "10.0.0.1:8080", false, "api.example.com", 80},
		{"api.example.com", "10.0.0.1:8443", true, "api.example.com", 443},
		{"[::1]:8080", "[::1]:8080", false, "::1", 8080},
		{"", "10.0.0.1:8080", false, "10.0.0.1", 8080},
		{"", "/run/app.sock", false, "/run/app.sock", 0},
	} {
		e := &record.Exchange{Server: c.server, TLS: c.tls}
		if c.host != "" {
			e.Headers = []record.Header{{Name: "Host", Value: c.host}}
		}
		if addr, port := ServerOf(e); addr != c.addr || port != c.port {
			t.Errorf("Host %q, server %q: %q %d, want %q %d", c.host, c.server, addr, port, c.addr, c.port)
		}
	}
}

// Write costs no allocation once its series exists, for a path with IDs
// and a Host without a port too.
func TestWriteAllocs(t *testing.T) {
	a := New(Options{})
	for _, e := range []*record.Exchange{exchange("GET", "/users/list", 200, 1), exchange("GET", "/users/123/posts/9?page=2", 200, 1)} {
		a.Write(e)
		if n := testing.AllocsPerRun(1000, func() { a.Write(e) }); n > 0 {
			t.Errorf("%s: %v allocations per exchange", e.Path, n)
		}
		e.Headers = []record.Header{{Name: "Host", Value: "example.com"}}
		a.Write(e)
		if n := testing.AllocsPerRun(1000, func() { a.Write(e) }); n > 0 {
			t.Errorf("%s, Host without a port: %v allocations per exchange", e.Path, n)
		}
	}
}

// Server addresses from Host headers are capped per service and side;
// 404s to paths of no known route make no route; the sides have caps of
// their own; a label that is not UTF-8 is made so.
func TestCaps(t *testing.T) {
	a := New(Options{MaxHosts: 3, MaxRoutes: 2})
	for i := 0; i < 10_000; i++ {
		e := exchange("GET", "/a", 200, 1)
		e.Headers = []record.Header{{Name: "Host", Value: fmt.Sprintf("h%d.example.com", i)}}
		a.Write(e)
	}
	st := a.Stats()
	if st.Series != 4 || st.HostOverflow != 10_000-3 {
		t.Errorf("10,000 Host values: stats %+v, want 4 series (3 hosts and _OTHER)", st)
	}
	// The ports a Host header names count with the address.
	p := New(Options{MaxHosts: 3})
	for port := 1; port <= 10_000; port++ {
		e := exchange("GET", "/a", 200, 1)
		e.Headers = []record.Header{{Name: "Host", Value: fmt.Sprintf("x.example.com:%d", port)}}
		p.Write(e)
	}
	if st := p.Stats(); st.Series != 4 || st.HostOverflow != 10_000-3 {
		t.Errorf("10,000 Host ports: stats %+v, want 4 series (3 address:port and _OTHER)", st)
	}
	b := New(Options{MaxRoutes: 2})
	b.Write(exchange("GET", "/wp-login.php", 404, 1))
	b.Write(exchange("GET", "/.env", 404, 1))
	b.Write(exchange("GET", "/a", 200, 1))
	b.Write(exchange("GET", "/a", 404, 1))
	client := exchange("GET", "/c", 200, 1)
	client.Side = record.Client
	b.Write(client)
	b.Write(exchange("GET", "/b", 200, 1))
	b.Write(exchange("GET", "/caf\xe9", 200, 1))
	got := series(b)
	for _, k := range []Key{key("GET", Overflow, 404), key("GET", "/a", 404), key("GET", "/a", 200), key("GET", "/b", 200), key("GET", Overflow, 200)} {
		if _, ok := got[k]; !ok {
			t.Errorf("no series %+v in %+v", k, got)
		}
	}
	if st := b.Stats(); st.Route404 != 2 || st.RouteOverflow != 1 {
		t.Errorf("stats %+v, want 2 scanner 404s and 1 route past the cap", st)
	}
	// A process name or container name that is not UTF-8 keeps one series.
	odd := New(Options{})
	for i := 0; i < 3; i++ {
		e := exchange("GET", "/a", 200, 1)
		e.Comm, e.ContainerID, e.ContainerName = "srv\xff", "3f1d8a6e2b9c", "web\xfe"
		odd.Write(e)
	}
	if got := odd.Snapshot(nil); len(got) != 1 || got[0].Duration.Count != 3 || got[0].Service != "srv\ufffd" {
		t.Errorf("a name not UTF-8: %+v, want one series of 3", got)
	}
	c := New(Options{})
	c.Write(exchange("GET", "/caf\xe9", 200, 1))
	for k := range series(c) {
		if k.Route != "/caf\ufffd" {
			t.Errorf("route %q, want the bad byte replaced", k.Route)
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	a := New(Options{})
	paths := make([]*record.Exchange, 64)
	for i := range paths {
		paths[i] = exchange("GET", fmt.Sprintf("/users/%d/posts", i), 200, uint64(i))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		a.Write(paths[i%len(paths)])
	}
}
