// Package bpftrace writes the bpftrace program equivalent to what httptrace
// attaches for a configuration: the same probes from the probe table, the
// same PID filter, and the same accept/read/close bookkeeping, in maps.
//
// The output targets bpftrace 0.17 (Debian 12) and later.
package bpftrace

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/probes"
)

// String sizes. bpftrace copies buf() and str() through a buffer of
// BPFTRACE_STRLEN bytes: 64 unless that variable raises it, at most 200.
const (
	DefaultStrLen = 64
	MaxStrLen     = 200
)

// Options are the settings of one script.
type Options struct {
	// PIDs to trace. None: the script takes one PID as its first argument.
	PIDs []int
	// CaptureBytes is the configured capture size; the script prints no
	// more than this nor more than StrLen.
	CaptureBytes int
	// StrLen is the BPFTRACE_STRLEN the script is written for
	// (DefaultStrLen if 0).
	StrLen int
	// Resolve picks the alternative of a probe ("A | B") to write; nil
	// writes the first. httptrace itself attaches the first that exists on
	// the running kernel (probes.First).
	Resolve func(probes.Choice) (probes.Spec, error)
}

// Methods are the first four bytes the BPF side accepts as the start of a
// request (is_http_request in bpf/http.h), in its order.
var Methods = []string{"GET ", "POST", "PUT ", "HEAD", "DELE", "PATC", "OPTI", "CONN", "TRAC"}

// TracefsDir is where the format of a syscall tracepoint the generator does
// not know is read from, to name its arguments.
var TracefsDir = "/sys/kernel/tracing"

// Generate writes the script for a configuration in an attach mode. Auto
// is written as kprobe mode: a script attaches exactly what it names, so
// the choice auto makes at run time cannot be made in it.
func Generate(cfg config.Config, mode probes.Mode) (string, error) {
	if mode == probes.ModeAuto || mode == "" {
		mode = probes.ModeKprobe
	}
	plan, ok := cfg.Probes[mode]
	if !ok {
		return "", fmt.Errorf("no probes for attach mode %q (want kprobe or tracepoint)", mode)
	}
	return GeneratePlan(plan, Options{PIDs: cfg.PIDs, CaptureBytes: cfg.CaptureBytes})
}

// GeneratePlan writes the script for a probe plan.
func GeneratePlan(plan probes.Plan, o Options) (string, error) {
	if o.StrLen == 0 {
		o.StrLen = DefaultStrLen
	}
	if o.StrLen < 4 || o.StrLen > MaxStrLen {
		return "", fmt.Errorf("string size %d is out of range (4 to %d, bpftrace's limit)", o.StrLen, MaxStrLen)
	}
	if o.CaptureBytes <= 0 {
		o.CaptureBytes = config.DefaultCaptureBytes
	}
	show := min(o.StrLen, o.CaptureBytes)
	args, ok := modeArgs[plan.Mode]
	if !ok {
		return "", fmt.Errorf("attach mode %q has no bpftrace form (want kprobe or tracepoint)", plan.Mode)
	}
	for _, pid := range o.PIDs {
		if pid <= 0 {
			return "", fmt.Errorf("PID %d is not a process ID", pid)
		}
	}
	plan, choices, err := resolve(plan, o.Resolve)
	if err != nil {
		return "", err
	}
	atts := plan.Attachments()
	if len(atts) == 0 {
		return "", fmt.Errorf("%s mode: the plan attaches nothing", plan.Mode)
	}

	var blocks []block
	for _, a := range atts {
		act, ok := actions[a.Role]
		if !ok {
			continue // only the request-reading roles have a bpftrace form
		}
		ex, err := args(a.Spec)
		if err != nil {
			return "", fmt.Errorf("%s: %w", a.Role, err)
		}
		pred, body, err := act(ex, scriptVars{pids: o.PIDs, show: show})
		if err != nil {
			return "", fmt.Errorf("%s: %s: %w", a.Role, a.Spec, err)
		}
		// Consecutive probes of one role with the same action share a block.
		if n := len(blocks); n > 0 && blocks[n-1].role == a.Role && blocks[n-1].pred == pred && blocks[n-1].body == body {
			blocks[n-1].specs = append(blocks[n-1].specs, a.Spec.String())
			continue
		}
		blocks = append(blocks, block{role: a.Role, specs: []string{a.Spec.String()}, pred: pred, body: body})
	}

	var b strings.Builder
	header(&b, plan, o, show, choices)
	if len(o.PIDs) == 0 {
		b.WriteString("BEGIN\n{\n\tif ($1 == 0) {\n\t\tprintf(\"usage: bpftrace SCRIPT PID\\n\");\n\t\texit();\n\t}\n" +
			"\tprintf(\"Tracing HTTP requests of PID %d... Hit Ctrl-C to end.\\n\", $1);\n}\n\n")
	} else {
		fmt.Fprintf(&b, "BEGIN\n{\n\tprintf(\"Tracing HTTP requests of %s... Hit Ctrl-C to end.\\n\");\n}\n\n", pidList(o.PIDs))
	}
	for _, bl := range blocks {
		row, _, _ := probes.Lookup(bl.role)
		fmt.Fprintf(&b, "// %s: %s\n", bl.role, row.Doc)
		b.WriteString(strings.Join(bl.specs, ",\n"))
		fmt.Fprintf(&b, "\n/ %s /\n{\n%s}\n\n", bl.pred, bl.body)
	}
	b.WriteString(end)
	return b.String(), nil
}

// block is one probe list with its predicate and action.
type block struct {
	role  probes.Role
	specs []string
	pred  string
	body  string
}

// exprs are the bpftrace expressions of a probe's arguments.
type exprs struct {
	fd  string // first argument, an fd (entry probes)
	buf string // second argument, a user buffer (entry probes)
	ret string // return value (return probes)
	// retFD is the return value as an fd (accept's return).
	retFD string
}

// scriptVars are what the actions need besides the probe's arguments.
type scriptVars struct {
	pids []int
	show int // bytes of each request printed
}

// The roles the script serves: accepts, reads and closes.
const (
	roleAcceptReturn probes.Role = "accept_return"
	roleReadEntry    probes.Role = "read_entry"
	roleReadReturn   probes.Role = "read_return"
	roleCloseEntry   probes.Role = "close_entry"
)

// actions maps the roles the script serves to their predicate and body;
// the plan's other roles are left out of the script.
var actions = map[probes.Role]func(e exprs, v scriptVars) (pred, body string, err error){
	roleAcceptReturn: func(e exprs, v scriptVars) (string, string, error) {
		return fmt.Sprintf("(%s) && %s >= 0", pidFilter(v.pids), e.ret),
			fmt.Sprintf("\t@active_sockets[pid, %s] = nsecs;\n", e.retFD), nil
	},
	roleReadEntry: func(e exprs, v scriptVars) (string, string, error) {
		if e.buf == "" {
			return "", "", fmt.Errorf("the probe has no second argument to read the buffer from")
		}
		return fmt.Sprintf("@active_sockets[pid, %s]", e.fd),
			"\t// This thread's previous read never reached its return probe.\n" +
				"\tif (@read_buf[tid] != 0) {\n\t\t@returns_missed++;\n\t}\n" +
				fmt.Sprintf("\t@read_buf[tid] = %s;\n\t@read_fd[tid] = %s;\n", e.buf, e.fd), nil
	},
	roleReadReturn: func(e exprs, v scriptVars) (string, string, error) {
		var conds []string
		for _, m := range Methods {
			conds = append(conds, fmt.Sprintf("$word == 0x%08x /* %q */", word(m), m))
		}
		return "@read_buf[tid]", fmt.Sprintf(`	$buf = @read_buf[tid];
	$fd = @read_fd[tid];
	delete(@read_buf[tid]);
	delete(@read_fd[tid]);
	$ret = %s;
	if ($ret >= 4) {
		// The first four bytes as one little-endian word, as bpf/http.h compares them.
		$word = *(uint32 *)$buf;
		if (%s) {
			$n = $ret < %d ? $ret : %d;
			printf("REQ pid=%%d fd=%%d bytes=%%d %%r\n", pid, $fd, $ret, buf($buf, $n));
		}
	}
`, e.ret, strings.Join(conds, " ||\n\t\t    "), v.show, v.show), nil
	},
	roleCloseEntry: func(e exprs, v scriptVars) (string, string, error) {
		return fmt.Sprintf("@active_sockets[pid, %s]", e.fd),
			fmt.Sprintf("\tdelete(@active_sockets[pid, %s]);\n", e.fd), nil
	},
}

// end prints the one counter kept and empties the maps, so bpftrace does
// not dump them on exit.
const end = `END
{
	if (@returns_missed > 0) {
		printf("returns missed: %d\n", @returns_missed);
	}
	clear(@returns_missed);
	clear(@active_sockets);
	clear(@read_buf);
	clear(@read_fd);
}
`

// modeArgs gives, per mode, how a probe's arguments are read. Kprobes read
// registers by position like BPF_KPROBE; syscall tracepoints name fields.
var modeArgs = map[probes.Mode]func(probes.Spec) (exprs, error){
	probes.ModeKprobe: func(s probes.Spec) (exprs, error) {
		return exprs{fd: "(int32)arg0", buf: "uptr(arg1)", ret: "(int64)retval", retFD: "(int32)retval"}, nil
	},
	probes.ModeTracepoint: func(s probes.Spec) (exprs, error) {
		if s.Kind != probes.Tracepoint {
			return exprs{}, fmt.Errorf("%s is not a tracepoint", s)
		}
		if strings.HasPrefix(s.Name, "sys_exit_") {
			return exprs{ret: "args->ret", retFD: "(int32)args->ret"}, nil
		}
		names, err := syscallArgs(s)
		if err != nil {
			return exprs{}, err
		}
		e := exprs{fd: "(int32)args->" + names[0]}
		if len(names) > 1 {
			e.buf = "args->" + names[1]
		}
		return e, nil
	},
}

// knownArgs names the first arguments of the syscalls whose enter
// tracepoints are likely in a config, as their tracepoint formats do.
var knownArgs = map[string][]string{
	"sys_enter_read":     {"fd", "buf"},
	"sys_enter_pread64":  {"fd", "buf"},
	"sys_enter_recvfrom": {"fd", "ubuf"},
	"sys_enter_readv":    {"fd", "vec"},
	"sys_enter_recvmsg":  {"fd", "msg"},
	"sys_enter_close":    {"fd"},
}

// syscallArgs names a syscall enter tracepoint's first two arguments, the
// positions the BPF programs read (args[0], args[1]).
func syscallArgs(s probes.Spec) ([]string, error) {
	if s.Category == "syscalls" {
		if names, ok := knownArgs[s.Name]; ok {
			return names, nil
		}
	}
	path := filepath.Join(TracefsDir, "events", s.Category, s.Name, "format")
	names, err := formatArgs(path)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot name its arguments: %w", s, err)
	}
	return names, nil
}

// formatArgs reads the argument names of a syscall tracepoint's format
// file: the fields after __syscall_nr, up to two.
func formatArgs(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var names []string
	after := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		decl, ok := strings.CutPrefix(line, "field:")
		if !ok {
			continue
		}
		decl, _, _ = strings.Cut(decl, ";")
		fields := strings.Fields(decl)
		if len(fields) == 0 {
			continue
		}
		name := strings.TrimLeft(fields[len(fields)-1], "*")
		if name == "__syscall_nr" {
			after = true
			continue
		}
		if after && len(names) < 2 {
			names = append(names, name)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s lists no syscall arguments", path)
	}
	return names, nil
}

// pidFilter is the predicate matching the traced processes. bpftrace's pid
// is the kernel tgid, the process, as the BPF side's tracked_pids keys.
func pidFilter(pids []int) string {
	if len(pids) == 0 {
		return "pid == $1"
	}
	sorted := append([]int(nil), pids...)
	sort.Ints(sorted)
	parts := make([]string, len(sorted))
	for i, p := range sorted {
		parts[i] = "pid == " + strconv.Itoa(p)
	}
	return strings.Join(parts, " || ")
}

// pidList names the PIDs for people: "PID 7" or "PIDs 7, 12".
func pidList(pids []int) string {
	ps := make([]string, len(pids))
	for i, p := range pids {
		ps[i] = strconv.Itoa(p)
	}
	if len(ps) == 1 {
		return "PID " + ps[0]
	}
	return "PIDs " + strings.Join(ps, ", ")
}

// word is four bytes as one little-endian word (HTTPTRACE_WORD).
func word(s string) uint32 {
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// resolve reduces each probe with alternatives to one, and describes the
// choices made for the header.
func resolve(plan probes.Plan, pick func(probes.Choice) (probes.Spec, error)) (probes.Plan, []string, error) {
	out := probes.Plan{Mode: plan.Mode, Roles: map[probes.Role][]probes.Choice{}}
	var notes []string
	for role := range actions {
		for _, c := range plan.Roles[role] {
			s := c[0]
			if pick != nil && len(c) > 1 {
				var err error
				if s, err = pick(c); err != nil {
					return out, nil, fmt.Errorf("%s: %w", role, err)
				}
			}
			if len(c) > 1 {
				notes = append(notes, fmt.Sprintf("%s: %s (this program: %s)", role, c, s))
			}
			out.Roles[role] = append(out.Roles[role], probes.Choice{s})
		}
	}
	return out, notes, nil
}

func header(b *strings.Builder, plan probes.Plan, o Options, show int, choices []string) {
	who := "the process given as the first argument (bpftrace SCRIPT PID)"
	if len(o.PIDs) > 0 {
		who = pidList(o.PIDs)
	}
	envNote := ""
	if o.StrLen > DefaultStrLen {
		envNote = fmt.Sprintf("\n *   Run it with BPFTRACE_STRLEN=%d, or bpftrace shortens each to %d bytes.", o.StrLen, DefaultStrLen)
	}
	fmt.Fprintf(b, `#!/usr/bin/env bpftrace
/*
 * HTTP/1.x requests read from accepted sockets, in %s mode.
 * Generated by `+"`httptrace bpftrace`"+`: regenerate it rather than edit it.
 *
 * Traces %s.
 * It attaches the probes httptrace attaches for the same configuration and
 * keeps the same state: an accept of a traced process adds (pid, fd) to
 * @active_sockets, a read entry on one saves its buffer per thread, the
 * read's return prints the bytes read when they start with a request method
 * (first four bytes %s),
 * and a close entry forgets the socket.
 *
 * Output, one line per request:
 *   REQ pid=<pid> fd=<fd> bytes=<bytes read> <first bytes of the request>
 * with bytes that are not printable shown as \xNN (CR LF is \x0d\x0a), so
 * each request stays on one line. "returns missed: N" at exit counts read
 * entries whose return was never seen.
 *
 * What it cannot do, against httptrace itself:
 * - It shows at most the first %d bytes of each request: bpftrace copies
 *   strings and buffers through BPFTRACE_STRLEN bytes (default %d, at most
 *   %d), so capture_bytes (%d in the configuration) cannot be honoured past
 *   that. Usually only the request line's start is shown; a long URL is cut
 *   and the headers are mostly missing.%s
 * - It does not parse requests: no method, path, headers or truncation
 *   fields; a request split across reads shows only its first read.
 * - Its maps are plain hashes of BPFTRACE_MAP_KEYS_MAX entries (default
 *   4096), not LRU: sockets past that are not traced, and sockets of a
 *   process that exits without closing them stay until the script ends.
 * - It traces the PIDs it was generated for (or the one it is given) and
 *   keeps no counters besides returns missed; bpftrace reports output it
 *   dropped as "Lost N events".
 * - The method check reads four bytes as a little-endian word (x86, arm64).%s
 */

`, plan.Mode, who, strings.Join(quoted(Methods), " "), show, DefaultStrLen, MaxStrLen, o.CaptureBytes, envNote, choiceNote(choices))
}

// choiceNote tells which alternative of each probe the program attaches:
// httptrace takes the first that exists on the kernel it runs on, a
// bpftrace program only what it names.
func choiceNote(choices []string) string {
	if len(choices) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n * - Probes with alternatives, of which httptrace attaches the first that\n" +
		" *   exists on the running kernel; this program names one (regenerate it on\n" +
		" *   the kernel it is for, or edit the probe):")
	for _, c := range choices {
		b.WriteString("\n *     " + c)
	}
	return b.String()
}

func quoted(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}
