// Command load sends a bounded number of HTTP/1.1 GET requests to a loopback
// server, a fixed number per keep-alive connection, and prints one JSON
// line of counts.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// result is the line printed at the end.
type result struct {
	Requests    int64   `json:"requests"`    // requests written
	Responses   int64   `json:"responses"`   // 200 responses read in full
	Errors      int64   `json:"errors"`      // connections that ended in an error
	Connections int64   `json:"connections"` // connections opened
	Seconds     float64 `json:"seconds"`     // wall time
	PerSecond   float64 `json:"per_second"`  // responses per second
	FirstError  string  `json:"first_error"` // "" when none
	TimedOut    bool    `json:"timed_out"`   // stopped by -max-time
}

type counters struct {
	requests, responses, errors, conns atomic.Int64
	next                               atomic.Int64 // requests handed out
	firstErr                           atomic.Pointer[string]
}

func main() {
	addr := flag.String("addr", "", "server address, host:port (loopback only)")
	total := flag.Int64("requests", 1_000_000, "requests to send in all")
	perConn := flag.Int("per-conn", 10, "requests per connection")
	workers := flag.Int("concurrency", 8, "connections in flight")
	maxTime := flag.Duration("max-time", 10*time.Minute, "stop after this long")
	flag.Parse()
	if err := run(*addr, *total, *perConn, *workers, *maxTime); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
}

func run(addr string, total int64, perConn, workers int, maxTime time.Duration) error {
	if err := checkLoopback(addr); err != nil {
		return err
	}
	if total <= 0 || perConn <= 0 || workers <= 0 || maxTime <= 0 {
		return errors.New("-requests, -per-conn, -concurrency and -max-time must be positive")
	}
	ctx, cancel := context.WithTimeout(context.Background(), maxTime)
	defer cancel()
	var c counters
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				// Claim up to perConn requests for the next connection.
				first := c.next.Add(int64(perConn)) - int64(perConn)
				if first >= total {
					return
				}
				n := min(int64(perConn), total-first)
				if err := connection(ctx, addr, first, int(n), &c); err != nil {
					c.errors.Add(1)
					msg := err.Error()
					c.firstErr.CompareAndSwap(nil, &msg)
				}
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	r := result{Requests: c.requests.Load(), Responses: c.responses.Load(), Errors: c.errors.Load(),
		Connections: c.conns.Load(), Seconds: secs, PerSecond: float64(c.responses.Load()) / secs,
		TimedOut: ctx.Err() != nil}
	if p := c.firstErr.Load(); p != nil {
		r.FirstError = *p
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// connection sends n requests, numbered from first, one at a time on one
// connection; the last asks the server to close.
func connection(ctx context.Context, addr string, first int64, n int, c *counters) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("dialing: %w", err)
	}
	defer conn.Close()
	c.conns.Add(1)
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	br := bufio.NewReader(conn)
	for i := 0; i < n; i++ {
		closing := ""
		if i == n-1 {
			closing = "Connection: close\r\n"
		}
		if _, err := fmt.Fprintf(conn, "GET /soak/%d HTTP/1.1\r\nHost: soak\r\nUser-Agent: httptrace-soak\r\n%s\r\n", first+int64(i), closing); err != nil {
			return fmt.Errorf("writing request: %w", err)
		}
		c.requests.Add(1)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return fmt.Errorf("reading response: %w", err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("reading body: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		c.responses.Add(1)
	}
	return nil
}

// checkLoopback refuses any address but a loopback IP.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %q: only loopback IP addresses are allowed", addr)
	}
	return nil
}
