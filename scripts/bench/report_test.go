// Tests of the medians, ratios, table cells and settings.
package main

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func rr(server, setup string, round int, rps float64) runResult {
	return runResult{Server: server, Setup: setup, Round: round, Wrk: wrkResult{RPS: rps, Requests: int64(rps)}}
}

func TestMedianRun(t *testing.T) {
	tests := []struct {
		name string
		rps  []float64
		want float64
	}{
		{"one", []float64{5}, 5},
		{"three", []float64{30, 10, 20}, 20},
		{"four takes the lower middle", []float64{4, 1, 3, 2}, 2},
	}
	for _, tt := range tests {
		var runs []runResult
		for i, v := range tt.rps {
			runs = append(runs, rr("go", setupUntraced, i+1, v))
		}
		if got := medianRun(runs); got == nil || got.Wrk.RPS != tt.want {
			t.Errorf("%s: got %+v, want rps %v", tt.name, got, tt.want)
		}
	}
	if medianRun(nil) != nil {
		t.Error("no runs: want nil")
	}
}

func TestAggregateAndMainTable(t *testing.T) {
	failed := rr("go", setupJSON, 1, 0)
	failed.Err = errors.New("no summary line on stderr")
	text := rr("go", setupText, 1, 500)
	text.Tracer = &tracerStats{Logged: 503, EventsLost: 2, CPUTicks: 1, PeakRSSKiB: 2048}
	text2 := rr("go", setupText, 2, 400)
	text2.Tracer = &tracerStats{Logged: 400, EventsLost: 3}
	runs := []runResult{
		rr("go", setupUntraced, 1, 1000), rr("go", setupUntraced, 2, 800),
		rr("go", setupFloor, 1, 800), rr("go", setupBpftrace, 1, 250),
		text, text2, failed,
	}
	rows := aggregate(runs, []string{"go"}, setupKeys)
	if len(rows) != len(setupKeys) {
		t.Fatalf("rows = %d, want %d", len(rows), len(setupKeys))
	}
	tab := mainTable(rows)
	find := func(setup string) []string {
		for _, line := range tab {
			if line[1] == setup {
				return line
			}
		}
		t.Fatalf("no row %s", setup)
		return nil
	}
	// Median of 400 and 500 is the lower run, 400. Ratios are per round:
	// ÷ untraced 500/1000 and 400/800; ÷ floor and ÷ bpftrace only round 1
	// has both, 500/800 and 500/250 (a ratio of medians would divide round
	// 2's 400 by round 1's floor: 0.500, and 1.600).
	got := find(setupText)
	// Tracer CPU: 0 ticks over 400 and 1 tick (10,000 µs) over 503 records.
	want := []string{"go", setupText, "400", "400-500", "0.500", "0.625", "2.000", "400 / 400 (=)", "5", "0.00 (0.00-19.88)", "0.00", "0.0", "-"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("text row\n got %q\nwant %q", got, want)
	}
	if got := find(setupJSON); got[2] != "FAILED" {
		t.Errorf("json row = %q, want FAILED", got)
	}
	if errs := errorLines(rows); len(errs) != 1 || !strings.Contains(errs[0], "no summary line") {
		t.Errorf("errors = %q", errs)
	}
}

func TestCells(t *testing.T) {
	tests := []struct {
		name      string
		tr        tracerStats
		requests  int64
		floor     bool
		wantLog   string
		wantCPU   string
		summaryEx int64
	}{
		{"match", tracerStats{Logged: 100, CPUTicks: 2}, 100, false, "100 / 100 (=)", "200.00", -1},
		{"over", tracerStats{Logged: 103, CPUTicks: 0}, 100, false, "103 / 100 (+3)", "0.00", -1},
		{"nothing logged", tracerStats{CPUTicks: 1}, 1000, false, "0 / 1000 (-1000)", "10.00 /req", -1},
		{"floor logs nothing", tracerStats{}, 1000, true, "0 / 1000 (=)", "0.00 /req", -1},
		{"summary disagrees", tracerStats{Logged: 10}, 10, false, "10 / 10 (=) summary 12", "0.00", 12},
		{"no load", tracerStats{}, 0, false, "0 / 0 (=)", "n/a", -1},
	}
	for _, tt := range tests {
		tr := tt.tr
		if tt.summaryEx >= 0 {
			tr.Summary = &summary{Exchanges: tt.summaryEx}
		}
		if got := loggedCell(&tr, tt.requests, tt.floor); got != tt.wantLog {
			t.Errorf("%s: logged %q, want %q", tt.name, got, tt.wantLog)
		}
		if got := perExchange(float64(tr.CPUTicks)*1e6/userHZ, &tr, tt.requests); got != tt.wantCPU {
			t.Errorf("%s: cpu %q, want %q", tt.name, got, tt.wantCPU)
		}
	}
}

func TestRoundRatios(t *testing.T) {
	a := row{Runs: []runResult{rr("go", setupText, 1, 90), rr("go", setupText, 2, 50), rr("go", setupText, 4, 70)}}
	ref := row{Runs: []runResult{rr("go", setupFloor, 1, 100), rr("go", setupFloor, 2, 100), rr("go", setupFloor, 3, 100), rr("go", setupFloor, 4, 0)}}
	// Round 3 has no text run and round 4's floor measured nothing.
	if got := fmt.Sprint(roundRatios(&a, &ref)); got != "[0.9 0.5]" {
		t.Errorf("ratios = %s, want [0.9 0.5]", got)
	}
	if roundRatios(&a, nil) != nil {
		t.Error("no reference row: want no ratios")
	}
	tests := []struct {
		vals []float64
		want string
	}{
		{nil, "n/a"},
		{[]float64{0.75}, "0.750"},
		{[]float64{1, 1, 1}, "1.000"},
		{[]float64{0.9, 0.5}, "0.700 (0.50-0.90)"},
		{[]float64{0.8, 0.1, 0.85}, "0.800 (0.10-0.85)"},
	}
	for _, tt := range tests {
		if got := ratioCell(tt.vals); got != tt.want {
			t.Errorf("ratioCell(%v) = %q, want %q", tt.vals, got, tt.want)
		}
	}
}

func TestProgTableAndRunTime(t *testing.T) {
	run := rr("go", setupText, 1, 10)
	run.Tracer = &tracerStats{Progs: []progStat{{Name: "idle"}, {Name: "read", RunCnt: 4, RunTimeNs: 1000}, {Name: "exit", RunCnt: 1, RunTimeNs: 7}}}
	rows := aggregate([]runResult{run, rr("go", setupUntraced, 1, 20)}, []string{"go"}, setupKeys)
	got := progTable(rows)
	want := [][]string{{"server", "setup", "BPF program", "runs", "avg ns/run"},
		{"go", setupText, "read", "4", "250"}, {"go", setupText, "exit", "1", "7"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("prog table\n got %q\nwant %q", got, want)
	}
	if n := bpfRunTimeNs(run.Tracer.Progs); n != 1007 {
		t.Errorf("run time = %d, want 1007", n)
	}
}

func TestBpftraceTable(t *testing.T) {
	bt := func(round int, rps float64, events, lost int64) runResult {
		r := rr("nginx", setupBpftrace, round, rps)
		// The share is of events: a request and its response are two.
		r.Tracer = &tracerStats{Logged: events / 2, Events: events, EventsLost: lost}
		return r
	}
	runs := []runResult{
		bt(2, 50, 50, 50), bt(1, 25, 100, 0),
		rr("nginx", setupText, 1, 75), rr("nginx", setupText, 2, 75),
		rr("nginx", setupJSON, 2, 100),
	}
	got := bpftraceTable(aggregate(runs, []string{"nginx", "go"}, setupKeys), []string{"nginx", "go"})
	want := [][]string{
		{"server", "round", "bpftrace req/s", "bpftrace events lost (share)", setupText + " ÷ bpftrace", setupJSON + " ÷ bpftrace"},
		{"nginx", "1", "25", "0 (0%)", "3.00", "-"},
		{"nginx", "2", "50", "50 (50%)", "1.50", "2.00"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bpftrace table\n got %q\nwant %q", got, want)
	}
}

func TestRender(t *testing.T) {
	tab := [][]string{{"a", "bb"}, {"ccc", "d"}}
	if got, want := renderText(tab), "a    bb\nccc  d\n"; got != want {
		t.Errorf("text %q, want %q", got, want)
	}
	if got, want := renderMarkdown(tab), "| a | bb |\n| --- | --- |\n| ccc | d |\n"; got != want {
		t.Errorf("markdown %q, want %q", got, want)
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := func(kv map[string]string) func(string) string {
		return func(k string) string { return kv[k] }
	}
	c, err := configFromEnv(env(nil))
	if err != nil || c.smoke || c.rounds != 5 || c.duration != 5*time.Second || c.out == "" || c.rate != 5000 {
		t.Errorf("defaults: %+v, %v", c, err)
	}
	c, err = configFromEnv(env(map[string]string{"BENCH_SMOKE": "1", "HTTPTRACE_BIN": "/x/httptrace"}))
	if err != nil || !c.smoke || c.rounds != 1 || c.out != "" || c.tool != "/x/httptrace" || c.rate == 0 {
		t.Errorf("smoke: %+v, %v", c, err)
	}
	c, err = configFromEnv(env(map[string]string{"BENCH_SERVERS": "go", "BENCH_FLOOR": "bpftrace", "BENCH_SECONDS": "2", "BENCH_RATE": "0"}))
	if err != nil || len(c.servers) != 1 || c.floor != floorBpftrace || c.duration != 2*time.Second || c.rate != 0 {
		t.Errorf("overrides: %+v, %v", c, err)
	}
	for _, bad := range []map[string]string{
		{"BENCH_ROUNDS": "0"}, {"BENCH_SECONDS": "x"}, {"BENCH_RATE": "-1"}, {"BENCH_FLOOR": "none"}, {"BENCH_SERVERS": "apache"},
	} {
		if _, err := configFromEnv(env(bad)); err == nil {
			t.Errorf("%v: want an error", bad)
		}
	}
}

func TestFixedServers(t *testing.T) {
	c := config{servers: serverNames}
	if got := fixedServers(c); !reflect.DeepEqual(got, serverNames) {
		t.Errorf("full run: %v, want every server", got)
	}
	c.smoke = true
	if got, want := fixedServers(c), []string{"nginx", "go-h2c", "grpc"}; !reflect.DeepEqual(got, want) {
		t.Errorf("smoke: %v, want %v", got, want)
	}
	c.servers = []string{"go-tls", "grpc", "go"}
	if got, want := fixedServers(c), []string{"go-tls", "grpc"}; !reflect.DeepEqual(got, want) {
		t.Errorf("smoke of some: %v, want %v", got, want)
	}
}
