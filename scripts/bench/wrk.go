// Load from wrk: run it against one URL and read its report.
package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrkResult is what one wrk run reports.
type wrkResult struct {
	Requests int64   // requests completed
	RPS      float64 // Requests/sec
	Errors   string  // socket errors and non-2xx/3xx responses, "" when none
}

// runWrk loads url for d with load l.
func runWrk(c config, url string, d time.Duration, l load) (wrkResult, error) {
	args := []string{"-t" + strconv.Itoa(c.threads), "-c" + strconv.Itoa(l.conns), "-d" + strconv.Itoa(seconds(d)) + "s", "--timeout", "2s"}
	if l.script != "" {
		args = append(args, "-s", l.script)
	}
	out, err := runBounded(d, "wrk", append(args, url)...)
	if err != nil {
		return wrkResult{}, err
	}
	return parseWrk(out)
}

// seconds is d in whole seconds, at least one.
func seconds(d time.Duration) int { return max(1, int(d/time.Second)) }

// runBounded runs a load generator meant to take d and returns its
// report; the run is bounded by a timeout well past d, so a stuck server
// cannot hang the benchmark.
func runBounded(d time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d+20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

var (
	wrkTotalRe  = regexp.MustCompile(`(?m)^\s*(\d+) requests in `)
	wrkRateRe   = regexp.MustCompile(`(?m)^Requests/sec:\s*([0-9.]+)`)
	wrkSocketRe = regexp.MustCompile(`(?m)^\s*Socket errors: (.*)$`)
	wrkNon2xxRe = regexp.MustCompile(`(?m)^\s*Non-2xx or 3xx responses: (\d+)`)
)

// parseWrk reads wrk's text report; a report without the request count or
// the rate is an error.
func parseWrk(out string) (wrkResult, error) {
	var r wrkResult
	m := wrkTotalRe.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New("wrk: no \"N requests in\" line in its report")
	}
	r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	m = wrkRateRe.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New("wrk: no \"Requests/sec:\" line in its report")
	}
	rps, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return r, fmt.Errorf("wrk: Requests/sec %q: %w", m[1], err)
	}
	r.RPS = rps
	var errs []string
	if m := wrkSocketRe.FindStringSubmatch(out); m != nil {
		errs = append(errs, "socket errors: "+m[1])
	}
	if m := wrkNon2xxRe.FindStringSubmatch(out); m != nil {
		errs = append(errs, m[1]+" non-2xx/3xx")
	}
	r.Errors = strings.Join(errs, "; ")
	return r, nil
}
