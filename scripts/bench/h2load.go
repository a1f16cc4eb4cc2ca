// Load over HTTP/2 from h2load (nghttp2): run it against one URL and read
// its report into the same result as wrk's.
package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// h2Streams is how many streams each h2load connection keeps open at
// saturation (h2load -m): HTTP/2's concurrency on one connection.
const h2Streams = 10

// grpcPath is the method the grpc row calls: the health service's Check,
// whose empty request (a 5-byte message prefix, no fields) asks about the
// server as a whole.
const grpcPath = "/grpc.health.v1.Health/Check"

// grpcRequest is that request as a gRPC message: uncompressed, 0 bytes.
var grpcRequest = []byte{0, 0, 0, 0, 0}

// runH2load loads url over HTTP/2 without TLS (prior knowledge) for d with
// load l: at saturation, l.conns connections of h2Streams streams each; at
// the fixed rate, l.conns connections of one stream sending c.rate/l.conns
// requests a second each. grpc: each request is a gRPC call, a POST of
// grpcRequest (h2load counts the 200 each answer has, grpc-status aside).
func runH2load(c config, url string, d time.Duration, l load, grpc bool) (wrkResult, error) {
	args := []string{"-c" + strconv.Itoa(l.conns), "-t" + strconv.Itoa(c.threads), "-D" + strconv.Itoa(seconds(d))}
	if grpc {
		body, err := os.CreateTemp("", "httptrace-grpc-*.bin")
		if err != nil {
			return wrkResult{}, err
		}
		defer os.Remove(body.Name())
		if _, err := body.Write(grpcRequest); err != nil {
			body.Close()
			return wrkResult{}, err
		}
		body.Close()
		args = append(args, "-d", body.Name(), "-H", "content-type: application/grpc", "-H", "te: trailers")
	}
	if l.fixed {
		args = append(args, "-m1", "--rps="+strconv.Itoa(max(1, (c.rate+l.conns-1)/l.conns)))
	} else {
		args = append(args, "-m"+strconv.Itoa(h2Streams))
	}
	out, err := runBounded(d, "h2load", append(args, url)...)
	if err != nil {
		return wrkResult{}, err
	}
	return parseH2load(out)
}

var (
	h2RateRe   = regexp.MustCompile(`(?m)^finished in [0-9.]+m?s, ([0-9.]+) req/s`)
	h2ReqRe    = regexp.MustCompile(`(?m)^requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed, (\d+) errored, (\d+) timeout`)
	h2StatusRe = regexp.MustCompile(`(?m)^status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx`)
)

// parseH2load reads h2load's report: the requests that succeeded, the
// rate, and what failed; a report without them is an error.
func parseH2load(out string) (wrkResult, error) {
	var r wrkResult
	m := h2RateRe.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New("h2load: no \"finished in ..., N req/s\" line in its report")
	}
	rps, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return r, fmt.Errorf("h2load: req/s %q: %w", m[1], err)
	}
	r.RPS = rps
	m = h2ReqRe.FindStringSubmatch(out)
	if m == nil {
		return r, errors.New("h2load: no \"requests: ... done, ... failed\" line in its report")
	}
	// done counts every answered request, as wrk's total does; failed
	// includes the non-2xx answers and errored, errored the timeouts.
	r.Requests, _ = strconv.ParseInt(m[1], 10, 64)
	var errs []string
	if m[2] != "0" {
		e := m[2] + " failed (" + m[3] + " errored, " + m[4] + " timed out"
		if s := h2StatusRe.FindStringSubmatch(out); s != nil {
			e += "; " + s[2] + " 4xx, " + s[3] + " 5xx"
		}
		errs = append(errs, e+")")
	}
	r.Errors = strings.Join(errs, "; ")
	return r, nil
}
