// Command bench measures httptrace's overhead side by side with no tracer, an
// idle tracer (the floor) and bpftrace, against nginx and a Go server under
// wrk, in interleaved rounds of one run, and prints the ratios (make bench).
// BENCH_SMOKE=1 runs one tiny round only to prove every setup still runs
// and its output still parses (make bench-smoke); it never judges numbers.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	c, err := configFromEnv(defaultEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if err := preflight(c); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	os.Exit(run(c))
}

// preflight checks root and every program the setups run.
func preflight(c config) error {
	if os.Geteuid() != 0 {
		return errors.New("loads BPF programs: run as root")
	}
	for _, p := range []string{c.tool, c.goserver, c.jaeger, "wrk", "h2load", "nginx", "bpftrace", "bpftool", "sleep"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s not found (make bench installs and builds what it needs): %w", p, err)
		}
	}
	return nil
}

// live tracks the idle process and servers, so an interrupt can end them.
var live struct {
	sync.Mutex
	procs []*child
}

func track(p *child) {
	live.Lock()
	live.procs = append(live.procs, p)
	live.Unlock()
}

// run does every round, prints the tables and returns the exit status:
// 1 when any setup could not run or its output could not be read.
func run(c config) int {
	dir, err := os.MkdirTemp("", "httptrace-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	restore, err := enableBPFStats()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	cleanup := func() {
		live.Lock()
		for _, p := range live.procs {
			p.stop(syscall.SIGKILL, 5*time.Second)
		}
		live.Unlock()
		if err := restore(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "bench: interrupted; files kept in", dir)
		cleanup()
		os.Exit(130)
	}()

	m := describeMachine(c, dir)
	idle, err := startChild(filepath.Join(dir, "idle.out"), filepath.Join(dir, "idle.err"), "sleep", "100000")
	if err != nil {
		cleanup()
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	track(idle)
	loads := []load{saturation(c)}
	if c.rate > 0 {
		fixed, err := fixedLoad(c, dir)
		if err != nil {
			cleanup()
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		loads = append(loads, fixed)
	}
	runs := rounds(c, dir, idle.pid(), loads)
	cleanup()
	m.LoadEnd = loadAvg()

	var saturated, fixed []runResult
	for _, r := range runs {
		if r.Fixed {
			fixed = append(fixed, r)
		} else {
			saturated = append(saturated, r)
		}
	}
	rows := aggregate(saturated, c.servers, setupKeys)
	var fixedRows []row
	if c.rate > 0 {
		fixedRows = aggregate(fixed, fixedServers(c), setupKeys)
	}
	errs := errorLines(rows)
	for _, e := range errorLines(fixedRows) {
		errs = append(errs, "at the fixed rate: "+e)
	}
	report := buildReport(c, m, rows, fixedRows, errs)
	fmt.Print(report.text)
	if c.out != "" {
		if err := os.MkdirAll(filepath.Dir(c.out), 0o755); err == nil {
			err = os.WriteFile(c.out, []byte(report.markdown), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: writing report:", err)
			return 1
		}
		fmt.Println("\nwritten:", c.out)
	}
	if len(errs) > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d run(s) failed; their files are kept in %s\n", len(errs), dir)
		return 1
	}
	os.RemoveAll(dir)
	return 0
}

// rounds runs every setup against every server, round after round, at
// saturation and then (when c.rate is set) at the fixed rate; each round
// restarts the servers and starts its setups one further along, so no
// setup always runs first.
func rounds(c config, dir string, idlePID int, loads []load) []runResult {
	var runs []runResult
	for round := 1; round <= c.rounds; round++ {
		for _, name := range c.servers {
			sdir := filepath.Join(dir, fmt.Sprintf("r%d-%s", round, name))
			if err := os.MkdirAll(sdir, 0o755); err != nil {
				runs = append(runs, failAll(name, round, loads, err)...)
				continue
			}
			srv, err := startServer(c, name, sdir)
			if err != nil {
				runs = append(runs, failAll(name, round, loads, err)...)
				continue
			}
			track(srv.proc)
			if c.warmup > 0 {
				loadFor(c, srv, c.warmup, saturation(c))
			}
			for _, l := range loads {
				if l.fixed && !slices.Contains(fixedServers(c), name) {
					continue
				}
				for i := range setupKeys {
					setup := setupKeys[(i+round-1)%len(setupKeys)]
					r := measure(c, srv, setup, round, sdir, idlePID, l)
					progress(r)
					runs = append(runs, r)
				}
			}
			if err := srv.stop(); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
			}
		}
	}
	return runs
}

// failAll records that no setup of a server could run in a round, under
// any of the loads.
func failAll(server string, round int, loads []load, err error) []runResult {
	var out []runResult
	for _, l := range loads {
		for _, s := range setupKeys {
			out = append(out, runResult{Server: server, Setup: s, Round: round, Fixed: l.fixed, Err: err})
		}
	}
	return out
}

// progress prints one line per run on stderr.
func progress(r runResult) {
	line := fmt.Sprintf("round %d %-6s %-15s %9.0f req/s", r.Round, r.Server, r.Setup, r.Wrk.RPS)
	if r.Fixed {
		line += fmt.Sprintf(" at the fixed rate, machine CPU %.1f µs/req", busyPerRequest(r))
	}
	if r.Tracer != nil {
		line += fmt.Sprintf("  logged %d / %d, lost %d", r.Tracer.Logged, r.Wrk.Requests, r.Tracer.EventsLost)
	}
	if r.Err != nil {
		line += "  FAILED: " + r.Err.Error()
	}
	fmt.Fprintln(os.Stderr, line)
}

// report is the result as text for the terminal and as markdown.
type report struct{ text, markdown string }

// buildReport renders the header, the tables and any failures.
func buildReport(c config, m machine, rows, fixedRows []row, errs []string) report {
	h := header(c, m)
	main, vsBpftrace, progs := mainTable(rows), bpftraceTable(rows, c.servers), progTable(rows)
	var t, md strings.Builder
	t.WriteString("\n" + strings.Join(h, "\n") + "\n\n" + renderText(main) + "\n" + renderText(vsBpftrace) + "\n" + renderText(progs))
	var fixed [][]string
	if len(fixedRows) > 0 {
		fixed = fixedTable(fixedRows)
		t.WriteString("\n" + renderText(fixed))
	}
	md.WriteString("# httptrace benchmark\n\nWritten by `make bench` (scripts/bench). Ratios are of requests/s " +
		"measured side by side in one run; 1.000 means no difference.\n\n")
	for _, line := range h {
		md.WriteString("- " + line + "\n")
	}
	md.WriteString("\n## Requests/s and tracer cost\n\n" + renderMarkdown(main))
	md.WriteString("\n## Against bpftrace, round by round\n\nbpftrace either keeps up or loses a large share of its events; " +
		"a lost event is one it does not print, which makes that round faster.\n\n" + renderMarkdown(vsBpftrace))
	if fixed != nil {
		md.WriteString(fmt.Sprintf("\n## At a fixed rate of about %d requests/s\n\n", c.rate) + fixedIntro(c) + "\n\n" + renderMarkdown(fixed))
	}
	md.WriteString("\n## BPF programs (kernel.bpf_stats_enabled, since load; median run)\n\n" + renderMarkdown(progs))
	if len(errs) > 0 {
		t.WriteString("\nFAILED:\n  " + strings.Join(errs, "\n  ") + "\n")
		md.WriteString("\n## Failed runs\n\n- " + strings.Join(errs, "\n- ") + "\n")
	}
	return report{text: t.String(), markdown: md.String()}
}
