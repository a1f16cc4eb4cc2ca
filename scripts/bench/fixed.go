// The fixed-rate table: what each setup costs the whole machine per
// request when every setup keeps up with the same offered load.
package main

import (
	"fmt"
	"math"
)

// fixedIntro says how the fixed-rate table was measured.
func fixedIntro(c config) string {
	return fmt.Sprintf("wrk paces each of %d connections to one request %d ms after the previous response, which offers about %d requests/s. "+
		"At this rate every setup should keep up (bpftrace's events lost say whether it did), so req/s are about equal and what differs "+
		"is the CPU the whole machine spends per request: user, system, irq and softirq time of all CPUs (/proc/stat) over the wrk run, "+
		"divided by the requests wrk completed. It counts wrk, the server, the tracer with its BPF programs, and anything else running. "+
		"added = that minus the untraced run's in the same round, which is each tracer's whole cost per request, kernel and user space; "+
		"the next column divides it by what %s adds in the same round.",
		fixedConns(c.rate), fixedDelayMs, c.rate, setupText)
}

// busyPerRequest is the machine's busy CPU time over a run per request
// wrk completed, in µs; NaN when none completed.
func busyPerRequest(r runResult) float64 {
	if r.Wrk.Requests == 0 {
		return math.NaN()
	}
	return float64(r.Busy) * 1e6 / userHZ / float64(r.Wrk.Requests)
}

// addedPerRequest is a run's machine CPU per request above the untraced
// run's of the same round.
func addedPerRequest(a, untraced runResult) (float64, bool) {
	v := busyPerRequest(a) - busyPerRequest(untraced)
	return v, !math.IsNaN(v)
}

// fixedTable is the fixed-rate table: req/s, the machine's CPU per request,
// what each setup adds to the untraced server's and that as a multiple of
// what httptrace's text output adds, all round by round.
func fixedTable(rows []row) [][]string {
	t := [][]string{{"server", "setup", "req/s (median)", "machine CPU µs/request (per round)", "added µs/request over untraced (per round)",
		"added ÷ " + setupText + "'s added (per round)", "logged / wrk requests", "events lost (all rounds)"}}
	for _, r := range rows {
		if r.Median == nil {
			t = append(t, []string{r.Server, r.Setup, "FAILED", "", "", "", "", ""})
			continue
		}
		var busy []float64
		for _, run := range r.Runs {
			if v := busyPerRequest(run); !math.IsNaN(v) {
				busy = append(busy, v)
			}
		}
		line := []string{r.Server, r.Setup, fmt.Sprintf("%.0f", r.Median.Wrk.RPS), medianCell(busy, "%.2f", "%.2f"), "-", "-", "-", "-"}
		if r.Setup != setupUntraced && r.Median.Tracer != nil {
			untraced, text := rowOf(rows, r.Server, setupUntraced), rowOf(rows, r.Server, setupText)
			line[4] = medianCell(perRound(&r, untraced, addedPerRequest), "%.2f", "%.2f")
			line[5] = medianCell(addedRatios(&r, text, untraced), "%.2f", "%.2f")
			line[6] = loggedCell(r.Median.Tracer, r.Median.Wrk.Requests, r.Setup == setupFloor)
			line[7] = fmt.Sprint(r.LostTotal)
		}
		t = append(t, line)
	}
	return t
}

// addedRatios are, round by round, what row r adds over the untraced run
// divided by what the reference row adds; rounds where the reference adds
// nothing measurable are left out.
func addedRatios(r, ref, untraced *row) []float64 {
	if untraced == nil {
		return nil
	}
	return perRound(r, ref, func(a, b runResult) (float64, bool) {
		for _, u := range untraced.Runs {
			if u.Round != a.Round {
				continue
			}
			ea, okA := addedPerRequest(a, u)
			eb, okB := addedPerRequest(b, u)
			return ea / eb, okA && okB && eb > 0
		}
		return 0, false
	})
}
