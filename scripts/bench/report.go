// Medians, ratios and the two result tables, as aligned text and as markdown.
package main

import (
	"fmt"
	"sort"
	"strings"
)

// row is one server and setup over all rounds.
type row struct {
	Server, Setup string
	Runs          []runResult // rounds that ran without error
	Median        *runResult  // the run with the median requests/s
	LostTotal     int64       // events lost, summed over the rounds
	Errors        []string
}

// aggregate groups runs by server and setup, in the order given.
func aggregate(runs []runResult, servers, setups []string) []row {
	var rows []row
	for _, sv := range servers {
		for _, st := range setups {
			r := row{Server: sv, Setup: st}
			for _, run := range runs {
				if run.Server != sv || run.Setup != st {
					continue
				}
				if run.Err != nil {
					r.Errors = append(r.Errors, fmt.Sprintf("round %d: %v", run.Round, run.Err))
					continue
				}
				r.Runs = append(r.Runs, run)
				if run.Tracer != nil {
					r.LostTotal += run.Tracer.EventsLost
				}
			}
			r.Median = medianRun(r.Runs)
			rows = append(rows, r)
		}
	}
	return rows
}

// medianRun is the run whose requests/s is the median (the lower middle
// one of an even count), so its other columns come from one real run.
func medianRun(runs []runResult) *runResult {
	if len(runs) == 0 {
		return nil
	}
	s := append([]runResult(nil), runs...)
	sort.Slice(s, func(i, j int) bool { return s[i].Wrk.RPS < s[j].Wrk.RPS })
	m := s[(len(s)-1)/2]
	return &m
}

// rowOf is a server's row for a setup, nil when there is none.
func rowOf(rows []row, server, setup string) *row {
	for i := range rows {
		if rows[i].Server == server && rows[i].Setup == setup {
			return &rows[i]
		}
	}
	return nil
}

// roundRatios are a row's requests/s divided by the reference row's, round
// by round, over the rounds in which both ran. Each pair ran against the
// same server process within a minute of each other, so load on a shared
// machine that drifts from round to round cancels out of the ratio (load
// that changes within a round does not: hence the range).
func roundRatios(r, ref *row) []float64 {
	return perRound(r, ref, func(a, b runResult) (float64, bool) {
		return a.Wrk.RPS / b.Wrk.RPS, a.Wrk.RPS > 0 && b.Wrk.RPS > 0
	})
}

// perRound applies f to a row's run and the reference row's run of the
// same round, over the rounds in which both ran, keeping the values f says
// are defined.
func perRound(r, ref *row, f func(a, b runResult) (float64, bool)) []float64 {
	if ref == nil {
		return nil
	}
	var out []float64
	for _, a := range r.Runs {
		for _, b := range ref.Runs {
			if a.Round == b.Round {
				if v, ok := f(a, b); ok {
					out = append(out, v)
				}
			}
		}
	}
	return out
}

// ratioCell is the median of per-round ratios (the mean of the two middle
// ones for an even count), then the lowest and highest when they differ;
// "n/a" when no round had both setups.
func ratioCell(vals []float64) string { return medianCell(vals, "%.3f", "%.2f") }

// medianCell is the median of vals (the mean of the two middle ones for an
// even count) in medFmt, then the lowest and highest in rangeFmt when they
// differ; "n/a" when there are none.
func medianCell(vals []float64, medFmt, rangeFmt string) string {
	if len(vals) == 0 {
		return "n/a"
	}
	s := append([]float64(nil), vals...)
	sort.Float64s(s)
	n := len(s)
	med := fmt.Sprintf(medFmt, (s[(n-1)/2]+s[n/2])/2)
	if s[0] == s[n-1] {
		return med
	}
	return fmt.Sprintf("%s ("+rangeFmt+"-"+rangeFmt+")", med, s[0], s[n-1])
}

// mainTable is the requests/s, ratio and tracer-cost table.
func mainTable(rows []row) [][]string {
	t := [][]string{{"server", "setup", "req/s (median)", "req/s min-max", "÷ untraced (per round)", "÷ floor (per round)", "÷ bpftrace (per round)",
		"logged / wrk requests", "events lost (all rounds)", "tracer CPU µs/exchange", "BPF ns/exchange", "peak RSS MiB", "wrk errors"}}
	for _, r := range rows {
		if r.Median == nil {
			t = append(t, []string{r.Server, r.Setup, "FAILED", "", "", "", "", "", "", "", "", "", ""})
			continue
		}
		m := r.Median
		rps := m.Wrk.RPS
		line := []string{r.Server, r.Setup, fmt.Sprintf("%.0f", rps), spread(r.Runs),
			ratioCell(roundRatios(&r, rowOf(rows, r.Server, setupUntraced))),
			ratioCell(roundRatios(&r, rowOf(rows, r.Server, setupFloor))),
			ratioCell(roundRatios(&r, rowOf(rows, r.Server, setupBpftrace))),
			"-", "-", "-", "-", "-", orDash(m.Wrk.Errors)}
		if tr := m.Tracer; tr != nil {
			line[7] = loggedCell(tr, m.Wrk.Requests, r.Setup == setupFloor)
			line[8] = fmt.Sprint(r.LostTotal)
			line[9] = cpuCell(r.Runs)
			line[10] = perExchange(float64(bpfRunTimeNs(tr.Progs)), tr, m.Wrk.Requests)
			line[11] = fmt.Sprintf("%.1f", float64(tr.PeakRSSKiB)/1024)
		}
		t = append(t, line)
	}
	return t
}

// spread is the lowest and highest requests/s over the rounds, so the
// noise of a shared machine shows next to the median.
func spread(runs []runResult) string {
	lo, hi := runs[0].Wrk.RPS, runs[0].Wrk.RPS
	for _, r := range runs[1:] {
		lo, hi = min(lo, r.Wrk.RPS), max(hi, r.Wrk.RPS)
	}
	return fmt.Sprintf("%.0f-%.0f", lo, hi)
}

// loggedCell is "logged / requests (difference)"; the floor traces an idle
// process, so there its records are compared with zero.
func loggedCell(tr *tracerStats, requests int64, floor bool) string {
	want := requests
	if floor {
		want = 0
	}
	cell := fmt.Sprintf("%d / %d", tr.Logged, requests)
	if d := tr.Logged - want; d != 0 {
		cell += fmt.Sprintf(" (%+d)", d)
	} else {
		cell += " (=)"
	}
	if tr.Summary != nil && tr.Summary.Exchanges != tr.Logged {
		cell += fmt.Sprintf(" summary %d", tr.Summary.Exchanges)
	}
	if tr.OTLP && tr.Spans != tr.Logged {
		// Spans dropped (the export's queue was full) cost less than
		// spans sent: the row's CPU is for what it exported.
		cell += fmt.Sprintf(" spans %d", tr.Spans)
	}
	return cell
}

// perExchange divides a tracer's cost by the records it logged, or by the
// requests completed (marked "/req") when it logged nothing.
func perExchange(cost float64, tr *tracerStats, requests int64) string {
	switch {
	case tr.Logged > 0:
		return fmt.Sprintf("%.2f", cost/float64(tr.Logged))
	case requests > 0:
		return fmt.Sprintf("%.2f /req", cost/float64(requests))
	}
	return "n/a"
}

// cpuCell is the tracer's CPU per exchange: the median over the rounds
// (the lower middle one of an even count), then the lowest and highest when
// there was more than one round. The tracer's CPU varies from round to
// round apart from the requests/s, so its own median says more than the
// value of the median-requests/s run alone.
func cpuCell(runs []runResult) string {
	var vals []float64
	var cells []string
	for _, r := range runs {
		if r.Tracer == nil {
			continue
		}
		cost := float64(r.Tracer.CPUTicks) * 1e6 / userHZ
		cell := perExchange(cost, r.Tracer, r.Wrk.Requests)
		if cell == "n/a" {
			continue
		}
		den := float64(r.Tracer.Logged)
		if r.Tracer.Logged == 0 {
			den = float64(r.Wrk.Requests)
		}
		vals = append(vals, cost/den)
		cells = append(cells, cell)
	}
	if len(vals) == 0 {
		return "n/a"
	}
	idx := make([]int, len(vals))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return vals[idx[a]] < vals[idx[b]] })
	med := cells[idx[(len(idx)-1)/2]]
	if len(vals) == 1 {
		return med
	}
	return fmt.Sprintf("%s (%.2f-%.2f)", med, vals[idx[0]], vals[idx[len(idx)-1]])
}

// bpfRunTimeNs is the run time of all a tracer's BPF programs since load.
func bpfRunTimeNs(ps []progStat) uint64 {
	var n uint64
	for _, p := range ps {
		n += p.RunTimeNs
	}
	return n
}

// bpftraceTable lists each bpftrace round with the httptrace rounds set
// against it. bpftrace either keeps up or loses a large share of its
// events, and a lost event is one it does not print, so its req/s (and
// every ratio to it) depends on which kind of round it was.
func bpftraceTable(rows []row, servers []string) [][]string {
	t := [][]string{{"server", "round", "bpftrace req/s", "bpftrace events lost (share)", setupText + " ÷ bpftrace", setupJSON + " ÷ bpftrace"}}
	for _, sv := range servers {
		bt := rowOf(rows, sv, setupBpftrace)
		if bt == nil {
			continue
		}
		runs := append([]runResult(nil), bt.Runs...)
		sort.Slice(runs, func(i, j int) bool { return runs[i].Round < runs[j].Round })
		for _, b := range runs {
			lost := "-"
			if tr := b.Tracer; tr != nil && tr.Events+tr.EventsLost > 0 {
				lost = fmt.Sprintf("%d (%.0f%%)", tr.EventsLost, 100*float64(tr.EventsLost)/float64(tr.Events+tr.EventsLost))
			}
			line := []string{sv, fmt.Sprint(b.Round), fmt.Sprintf("%.0f", b.Wrk.RPS), lost}
			for _, setup := range []string{setupText, setupJSON} {
				cell := "-"
				if r := rowOf(rows, sv, setup); r != nil {
					one := row{Runs: []runResult{b}}
					if v := roundRatios(r, &one); len(v) == 1 {
						cell = fmt.Sprintf("%.2f", v[0])
					}
				}
				line = append(line, cell)
			}
			t = append(t, line)
		}
	}
	return t
}

// progTable lists the BPF programs that ran in each traced setup's median
// run; programs that never ran are left out.
func progTable(rows []row) [][]string {
	t := [][]string{{"server", "setup", "BPF program", "runs", "avg ns/run"}}
	for _, r := range rows {
		if r.Median == nil || r.Median.Tracer == nil {
			continue
		}
		for _, p := range r.Median.Tracer.Progs {
			if p.RunCnt == 0 {
				continue
			}
			t = append(t, []string{r.Server, r.Setup, p.Name, fmt.Sprint(p.RunCnt), fmt.Sprintf("%.0f", p.avgNs())})
		}
	}
	return t
}

// errorLines lists every failed run.
func errorLines(rows []row) []string {
	var out []string
	for _, r := range rows {
		for _, e := range r.Errors {
			out = append(out, fmt.Sprintf("%s %s %s", r.Server, r.Setup, e))
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// renderText aligns a table's columns with spaces.
func renderText(t [][]string) string {
	width := make([]int, len(t[0]))
	for _, line := range t {
		for i, cell := range line {
			if n := len([]rune(cell)); n > width[i] {
				width[i] = n
			}
		}
	}
	var b strings.Builder
	for _, line := range t {
		for i, cell := range line {
			pad := width[i] - len([]rune(cell))
			b.WriteString(cell)
			if i < len(line)-1 {
				b.WriteString(strings.Repeat(" ", pad+2))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// renderMarkdown writes a table as GitHub markdown.
func renderMarkdown(t [][]string) string {
	var b strings.Builder
	for i, line := range t {
		b.WriteString("| " + strings.Join(line, " | ") + " |\n")
		if i == 0 {
			b.WriteString("|" + strings.Repeat(" --- |", len(line)) + "\n")
		}
	}
	return b.String()
}
