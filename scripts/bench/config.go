// Benchmark settings, read from the environment, with the defaults of a full and of a smoke run.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Floor choices: which tracer, given a PID that serves nothing, stands for
// "syscall tracepoints attached, filter matches nothing".
const (
	floorHTTPTrace = "httptrace"
	floorBpftrace  = "bpftrace"
)

// config holds what one benchmark run does.
type config struct {
	tool     string        // the httptrace binary under test
	goserver string        // the Go test server binary
	jaeger   string        // Jaeger, the OTLP setup's backend
	smoke    bool          // one short round, only checks that every setup runs
	rounds   int           // interleaved rounds; the median is reported
	duration time.Duration // wrk -d (whole seconds)
	conns    int           // wrk -c
	threads  int           // wrk -t
	warmup   time.Duration // untraced wrk run after a server starts, not reported
	settle   time.Duration // pause after wrk before the tracer is sampled and stopped
	rate     int           // fixed-load requests/s offered after the saturation runs; 0: none
	floor    string        // floorHTTPTrace or floorBpftrace
	servers  []string      // "nginx", "go"
	out      string        // markdown report path; "" writes none
}

// configFromEnv reads BENCH_* and HTTPTRACE_BIN; a bad value is an error
// naming the variable.
func configFromEnv(getenv func(string) string) (config, error) {
	c := config{
		tool:     "bin/httptrace",
		goserver: "bin/goserver",
		jaeger:   "bin/jaeger",
		rounds:   5,
		duration: 5 * time.Second,
		conns:    20,
		threads:  1,
		warmup:   time.Second,
		settle:   500 * time.Millisecond,
		rate:     5000,
		floor:    floorHTTPTrace,
		servers:  serverNames,
		out:      "bench/RESULTS.md",
	}
	if v := getenv("BENCH_SMOKE"); v != "" && v != "0" {
		c.smoke = true
		c.rounds = 1
		c.duration = time.Second
		c.conns = 4
		c.warmup = 0
		c.settle = 200 * time.Millisecond
		c.rate = 400
		c.out = ""
	}
	if v := getenv("HTTPTRACE_BIN"); v != "" {
		c.tool = v
	}
	if v := getenv("BENCH_GOSERVER"); v != "" {
		c.goserver = v
	}
	if v := getenv("BENCH_JAEGER"); v != "" {
		c.jaeger = v
	}
	if v := getenv("BENCH_OUT"); v != "" {
		c.out = v
	}
	var err error
	if c.rounds, err = envInt(getenv, "BENCH_ROUNDS", c.rounds, 1, 20); err != nil {
		return c, err
	}
	if c.conns, err = envInt(getenv, "BENCH_CONNECTIONS", c.conns, 1, 1000); err != nil {
		return c, err
	}
	if c.rate, err = envInt(getenv, "BENCH_RATE", c.rate, 0, 100000); err != nil {
		return c, err
	}
	secs, err := envInt(getenv, "BENCH_SECONDS", int(c.duration/time.Second), 1, 120)
	if err != nil {
		return c, err
	}
	c.duration = time.Duration(secs) * time.Second
	if v := getenv("BENCH_FLOOR"); v != "" {
		if v != floorHTTPTrace && v != floorBpftrace {
			return c, fmt.Errorf("BENCH_FLOOR=%q: want %s or %s", v, floorHTTPTrace, floorBpftrace)
		}
		c.floor = v
	}
	if v := getenv("BENCH_SERVERS"); v != "" {
		c.servers = nil
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if !knownServer(s) {
				return c, fmt.Errorf("BENCH_SERVERS: unknown server %q (%s)", s, strings.Join(serverNames, ", "))
			}
			c.servers = append(c.servers, s)
		}
	}
	return c, nil
}

// envInt reads an integer variable within [lo, hi], or def when unset.
func envInt(getenv func(string) string, name string, def, lo, hi int) (int, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return def, fmt.Errorf("%s=%q: want an integer from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

// defaultEnv is os.Getenv, kept as a value so tests can pass their own.
var defaultEnv = os.Getenv

// serverNames are the servers the benchmark knows, in the order it runs
// them: each plaintext and over HTTPS, then Go's over HTTP/2 without TLS
// (loaded with h2load).
var serverNames = []string{"nginx", "go", "nginx-tls", "go-tls", "go-h2c", "grpc"}

// fixedServers are the servers measured at the fixed rate: all of them,
// but in a smoke run only the first of each load generator (wrk, h2load,
// h2load posting gRPC calls), which is all the fixed rate adds to check.
func fixedServers(c config) []string {
	if !c.smoke {
		return c.servers
	}
	var out []string
	seen := map[string]bool{}
	for _, s := range c.servers {
		if g := loadGenerator(s); !seen[g] {
			seen[g] = true
			out = append(out, s)
		}
	}
	return out
}

// loadGenerator names what loads a server: wrk for HTTP/1 (in clear or
// over TLS), h2load for h2c, h2load posting gRPC calls for grpc.
func loadGenerator(server string) string {
	switch server {
	case "go-h2c":
		return "h2load"
	case "grpc":
		return "h2load-grpc"
	}
	return "wrk"
}

func knownServer(s string) bool {
	for _, n := range serverNames {
		if s == n {
			return true
		}
	}
	return false
}
