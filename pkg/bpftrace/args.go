// How a probe's arguments are read in each attach mode.

package bpftrace

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/httptrace/httptrace/pkg/probes"
)

// exprs are the bpftrace expressions of a probe's arguments.
type exprs struct {
	fd  string // first argument, an fd (entry probes)
	ptr string // second argument: the buffer, iovec array or msghdr (entry probes)
	ret string // return value (return probes)
	// asRet formats a number read from user memory so bpftrace compares it
	// with ret without an address-space warning: retval is kernel data,
	// a syscall tracepoint's ret user data.
	asRet string
}

// TracefsDir is where the format of a syscall tracepoint the generator does
// not know is read from, to name its arguments.
var TracefsDir = "/sys/kernel/tracing"

// modeArgs gives, per mode, how a probe's arguments are read. Kprobes read
// registers by position like BPF_KPROBE: every kernel function of the table
// takes the fd first and the user pointer second. Syscall tracepoints name
// fields.
var modeArgs = map[probes.Mode]func(probes.Spec) (exprs, error){
	probes.ModeKprobe: func(s probes.Spec) (exprs, error) {
		if s.Kind != probes.Kprobe && s.Kind != probes.Kretprobe {
			return exprs{}, fmt.Errorf("%s is not a kprobe", s)
		}
		return exprs{fd: "(int32)arg0", ptr: "uptr(arg1)", ret: "(int64)retval", asRet: "kptr(%s)"}, nil
	},
	probes.ModeTracepoint: func(s probes.Spec) (exprs, error) {
		if s.Kind != probes.Tracepoint {
			return exprs{}, fmt.Errorf("%s is not a tracepoint", s)
		}
		if strings.HasPrefix(s.Name, "sys_exit_") {
			return exprs{ret: "args->ret", asRet: "%s"}, nil
		}
		names, err := syscallArgs(s)
		if err != nil {
			return exprs{}, err
		}
		e := exprs{fd: "(int32)args->" + names[0]}
		if len(names) > 1 {
			e.ptr = "args->" + names[1]
		}
		return e, nil
	},
}

// knownArgs names the first two arguments of the syscall enter tracepoints
// of the probe table's defaults, as their tracepoint formats do, so that
// tracepoint programs can be written where tracefs is not mounted.
var knownArgs = map[string][]string{
	"sys_enter_read":       {"fd", "buf"},
	"sys_enter_readv":      {"fd", "vec"},
	"sys_enter_recvfrom":   {"fd", "ubuf"},
	"sys_enter_recvmsg":    {"fd", "msg"},
	"sys_enter_write":      {"fd", "buf"},
	"sys_enter_writev":     {"fd", "vec"},
	"sys_enter_sendto":     {"fd", "buff"},
	"sys_enter_sendmsg":    {"fd", "msg"},
	"sys_enter_sendfile64": {"out_fd", "in_fd"},
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
		return nil, fmt.Errorf("open format: %w", err)
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
		return nil, fmt.Errorf("read format: %w", err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s lists no syscall arguments", path)
	}
	return names, nil
}
