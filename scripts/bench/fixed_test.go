package main

import (
	"fmt"
	"testing"
)

func TestParseBusyTicks(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	stat := "cpu  100 2 30 5000 40 5 6 700 0 0\ncpu0 50 1 15 2500 20 2 3 350 0 0\n"
	n, err := parseBusyTicks(stat)
	if err != nil || n != 100+2+30+5+6 {
		t.Errorf("busy = %d, %v; want %d (idle, iowait and steal left out)", n, err, 100+2+30+5+6)
	}
	for _, bad := range []string{"", "intr 1 2\n", "cpu 1 2 3\n", "cpu 1 2 x 4 5 6 7 8\n"} {
		if _, err := parseBusyTicks(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestFixedConns(t *testing.T) {
	for rate, want := range map[int]int{10000: 100, 400: 4, 1: 1, 150: 2} {
		if got := fixedConns(rate); got != want {
			t.Errorf("fixedConns(%d) = %d, want %d", rate, got, want)
		}
	}
}

func TestFixedTable(t *testing.T) {
	// Busy is set so that machine CPU per request is the number given, in µs.
	run := func(setup string, round int, usPerReq int64) runResult {
		r := runResult{Server: "nginx", Setup: setup, Round: round, Fixed: true,
			Wrk: wrkResult{RPS: 10000, Requests: 10000}, Busy: usPerReq * userHZ / 100}
		if setup != setupUntraced {
			r.Tracer = &tracerStats{Logged: 10000}
			if setup == setupFloor {
				r.Tracer.Logged = 0
			}
			if setup == setupOTLP {
				r.Tracer.OTLP, r.Tracer.Spans = true, 10000
			}
		}
		return r
	}
	var runs []runResult
	for round, b := range []struct{ untraced, floor, bt, text, json, metrics, otlp int64 }{
		{100, 110, 200, 110, 115, 112, 130}, // round 1: text adds 10, bpftrace 100, metrics 12, OTLP 30
		{120, 125, 180, 140, 150, 142, 160}, // round 2: text adds 20, bpftrace 60, metrics 22, OTLP 40
		{100, 105, 150, 100, 104, 101, 120}, // round 3: text adds 0, left out of the ratios
	} {
		runs = append(runs, run(setupUntraced, round+1, b.untraced), run(setupFloor, round+1, b.floor),
			run(setupBpftrace, round+1, b.bt), run(setupText, round+1, b.text), run(setupJSON, round+1, b.json),
			run(setupMetrics, round+1, b.metrics), run(setupOTLP, round+1, b.otlp))
	}
	got := fixedTable(aggregate(runs, []string{"nginx"}, setupKeys))
	want := [][]string{
		got[0],
		{"nginx", "untraced", "10000", "100.00 (100.00-120.00)", "-", "-", "-", "-"},
		{"nginx", "floor", "10000", "110.00 (105.00-125.00)", "5.00 (5.00-10.00)", "0.62 (0.25-1.00)", "0 / 10000 (=)", "0"},
		{"nginx", "bpftrace", "10000", "180.00 (150.00-200.00)", "60.00 (50.00-100.00)", "6.50 (3.00-10.00)", "10000 / 10000 (=)", "0"},
		{"nginx", "httptrace-text", "10000", "110.00 (100.00-140.00)", "10.00 (0.00-20.00)", "1.00", "10000 / 10000 (=)", "0"},
		{"nginx", "httptrace-json", "10000", "115.00 (104.00-150.00)", "15.00 (4.00-30.00)", "1.50", "10000 / 10000 (=)", "0"},
		{"nginx", "httptrace-metrics", "10000", "112.00 (101.00-142.00)", "12.00 (1.00-22.00)", "1.15 (1.10-1.20)", "10000 / 10000 (=)", "0"},
		{"nginx", "httptrace-otlp", "10000", "130.00 (120.00-160.00)", "30.00 (20.00-40.00)", "2.50 (2.00-3.00)", "10000 / 10000 (=)", "0"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("fixed table\n got %q\nwant %q", got, want)
	}
}
