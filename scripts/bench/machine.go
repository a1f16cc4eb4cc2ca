// What the results were measured on: kernel, CPU, cores, load, tool version.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// machine describes the host a benchmark ran on.
type machine struct {
	Kernel  string
	CPU     string
	Cores   int
	Tool    string // the httptrace binary and its --version
	Tools   string // wrk, nginx, bpftrace versions
	LoadBeg string // /proc/loadavg before the run
	LoadEnd string // and after
	OutFS   string // file system type of the directory the records go to
}

// describeMachine reads the host facts that do not change during a run;
// dir is where the tracers write their records.
func describeMachine(c config, dir string) machine {
	m := machine{Cores: runtime.NumCPU(), CPU: "unknown"}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPU = cpuModel(string(b))
	}
	m.Tool = c.tool + " " + firstLine(exec.Command(c.tool, "--version"))
	m.Tools = strings.Join([]string{
		firstLine(exec.Command("bpftrace", "--version")),
		firstLine(exec.Command("nginx", "-v")),
		firstLine(exec.Command("wrk", "-v")),
	}, ", ")
	m.OutFS = firstLine(exec.Command("findmnt", "-n", "-o", "FSTYPE", "-T", dir))
	m.LoadBeg = loadAvg()
	return m
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAvg is the three load averages of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// firstLine runs cmd and returns the first line it prints (either stream);
// wrk -v exits 1 after printing its version, so the status is ignored.
func firstLine(cmd *exec.Cmd) string {
	out, _ := cmd.CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if line == "" {
		return "(no version)"
	}
	return line
}

// header is the text above the tables: machine, load, settings, floor.
func header(c config, m machine) []string {
	mode := "full"
	if c.smoke {
		mode = "smoke (BENCH_SMOKE=1: numbers not meaningful)"
	}
	return []string{
		fmt.Sprintf("machine: kernel %s, %s, %d cores", m.Kernel, m.CPU, m.Cores),
		fmt.Sprintf("load average: %s before, %s after (the machine is shared; other work running during the run makes the numbers noisy)", m.LoadBeg, m.LoadEnd),
		"tool: " + m.Tool,
		"with: " + m.Tools,
		fmt.Sprintf("mode: %s; %d interleaved round(s); wrk -t%d -c%d -d%ds on loopback, keep-alive; attach %s",
			mode, c.rounds, c.threads, c.conns, int(c.duration.Seconds()), attachMode),
		"floor: " + floorWhy(c.floor),
		"nginx: 2 workers, `return 200 \"ok\\n\"`, traced by master PID; go: test/servers/goserver (net/http, 200 \"ok PATH\")",
		"req/s is the median over the rounds; every other column comes from that median run, except the ratios, events lost " +
			"(summed over rounds) and tracer CPU (the median over the rounds, then the lowest and highest).",
		"÷ columns: each round divides the two setups' req/s, measured against the same server process within a minute; the cell is " +
			"the median of those per-round ratios, then the lowest and highest. Load on a shared machine that drifts from round to round " +
			"cancels out of a per-round ratio; load that changes within a round does not, hence the range.",
		"÷ bpftrace of the untraced row is the most any tracer could reach against this bpftrace. " +
			"bpftrace loses events at these rates (events lost), and each lost event is one it does not print, which makes its rounds faster.",
		"logged = records in the tracer's output file (httptrace: stdout lines; bpftrace: its \"REQ pid=\" lines, one per request, and for HTTP/2 its HEADERS frames read; its events lost are of REQ and RESP lines alike, and their share is of both); " +
			"wrk counts only responses it read before its duration ended, so a few in-flight requests can be logged beyond its count.",
		"tracer CPU = utime+stime of the tracer over the wrk run / records logged (/req: per wrk request when nothing was logged), per round. " +
			"Records go to a file on " + m.OutFS + "; once counted the file is removed, before the kernel writes it back to disk, " +
			"so that no setup's run carries the writeback of an earlier one (the tracer still pays for every write into the page cache).",
		"BPF ns/exchange = run_time_ns of all the tracer's BPF programs since load (kernel.bpf_stats_enabled) / records logged: " +
			"time spent inside the syscalls of the server (and of every other process: the tracepoints are system-wide), not in the tracer's CPU column.",
	}
}

// floorWhy says what the floor setup runs and why.
func floorWhy(floor string) string {
	if floor == floorBpftrace {
		return "the bpftrace program httptrace generates, for the PID of an idle `sleep` " +
			"(BENCH_FLOOR=bpftrace): the syscall tracepoints attached, a filter that matches nothing."
	}
	return "httptrace itself, --pid of an idle `sleep` (BENCH_FLOOR=httptrace, the default): the same " +
		"BPF programs and tracepoints as the httptrace rows with a PID filter that matches nothing, so " +
		"÷ floor isolates the per-exchange work (copy, parse, log) from the fixed cost every syscall pays " +
		"while the programs are attached."
}
