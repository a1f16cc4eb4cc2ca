// The two loads: wrk as fast as the server answers (saturation), and a
// fixed rate that every setup can keep up with, at which the machine's CPU
// per request shows each tracer's whole cost, bpftrace's included.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// load is how wrk drives the server.
type load struct {
	fixed  bool   // at c.rate, not at saturation
	conns  int    // wrk -c
	script string // wrk -s, "" for none
}

// fixedDelayMs is how long each connection waits after a response before
// its next request at fixed load: rate = conns * 1000 / (delay + latency),
// and latency on loopback is well under a millisecond.
const fixedDelayMs = 10

// saturation is wrk at c.conns connections with no pause.
func saturation(c config) load { return load{conns: c.conns} }

// fixedLoad writes the wrk script that paces each connection and returns
// the load that offers about c.rate requests per second.
func fixedLoad(c config, dir string) (load, error) {
	script := filepath.Join(dir, "fixed-rate.lua")
	text := fmt.Sprintf("-- each connection waits %d ms after a response\nfunction delay()\n  return %d\nend\n", fixedDelayMs, fixedDelayMs)
	if err := os.WriteFile(script, []byte(text), 0o644); err != nil {
		return load{}, fmt.Errorf("writing wrk script: %w", err)
	}
	return load{fixed: true, conns: fixedConns(c.rate), script: script}, nil
}

// fixedConns is the number of paced connections that offer rate req/s.
func fixedConns(rate int) int {
	return max(1, (rate*fixedDelayMs+999)/1000)
}

// runLoad runs wrk (h2load for an HTTP/2 server) against srv with load l
// for c.duration and returns, with its result, the ticks all CPUs were busy
// meanwhile.
func runLoad(c config, srv *server, l load) (wrkResult, int64, error) {
	before, err := busyTicks()
	if err != nil {
		return wrkResult{}, 0, err
	}
	res, err := loadFor(c, srv, c.duration, l)
	if err != nil {
		return res, 0, err
	}
	after, err := busyTicks()
	return res, after - before, err
}

// loadFor runs the server's load generator for d.
func loadFor(c config, srv *server, d time.Duration, l load) (wrkResult, error) {
	if srv.h2 {
		return runH2load(c, srv.url, d, l, srv.grpc)
	}
	return runWrk(c, srv.url, d, l)
}

// busyTicks is the time all CPUs spent running anything (user, nice,
// system, irq, softirq), in userHZ ticks, from /proc/stat. Idle, iowait
// and steal (time the hypervisor gave to other machines) are left out.
func busyTicks() (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("reading /proc/stat: %w", err)
	}
	return parseBusyTicks(string(b))
}

// parseBusyTicks reads the "cpu" line: user nice system idle iowait irq
// softirq steal ...
func parseBusyTicks(stat string) (int64, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat: no \"cpu\" line with 7 counters first")
	}
	var sum int64
	for _, i := range []int{1, 2, 3, 6, 7} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: cpu field %d %q: %w", i, f[i], err)
		}
		sum += n
	}
	return sum, nil
}
