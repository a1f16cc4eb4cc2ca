package probes

import (
	"github.com/httptrace/httptrace/pkg/event"
)

// Mode is how the syscall programs attach: to kernel functions or to
// syscall tracepoints.
type Mode string

// The attach modes. Auto is resolved to one of the others at start-up.
const (
	ModeAuto       Mode = "auto"
	ModeKprobe     Mode = "kprobe"
	ModeTracepoint Mode = "tracepoint"
)

// Modes are the concrete attach modes, in the order auto prefers them.
var Modes = []Mode{ModeKprobe, ModeTracepoint}

// Side is when a hook's program runs.
type Side string

// The sides.
const (
	Entry  Side = "entry"  // a syscall (or the kernel function behind it) starts
	Return Side = "return" // it returns
	Event  Side = "event"  // a scheduler event: one raw tracepoint program in every mode
)

// Shape is how a data syscall hands over its bytes.
type Shape string

// The shapes.
const (
	ShapeNone     Shape = ""         // not a data syscall
	ShapeBuffer   Shape = "buffer"   // one buffer
	ShapeIovec    Shape = "iovec"    // an iovec array, its bytes in one record
	ShapeMsghdr   Shape = "msghdr"   // a msghdr whose msg_iov is copied as iovecs
	ShapeSendfile Shape = "sendfile" // file to socket inside the kernel: counted, nothing copied
)

// Role names one hook in a configuration (probes.<mode>.<role>): the row's
// name and the side, e.g. read_entry, or the row's name for event rows.
type Role string

// Hook is one program slot of a row: what runs at one side, and where it
// attaches by default, per mode.
type Hook struct {
	Role     Role
	Side     Side
	Programs map[Mode]string   // BPF program per mode
	Defaults map[Mode][]string // default probes (choices) per mode
}

// Row is one thing httptrace traces: a socket syscall with its direction
// and argument shape, a connection hint (accept, connect), close, or a
// process event.
type Row struct {
	Name string
	Doc  string
	// Syscall and Dir are set for data rows, whose records carry them.
	Syscall event.Syscall
	Dir     event.Direction
	Shape   Shape
	// Required rows must attach; an optional row that cannot is left out
	// whole, with a warning.
	Required bool
	Hooks    []Hook
}

// Table is the probe table: the one place that says which program serves
// which hook and where it attaches by default.
var Table = []Row{
	dataRow(event.SysRead, event.Recv, ShapeBuffer, true, "ksys_read", "read", ProgKprobeRead, ProgTpEnterRead),
	dataRow(event.SysReadv, event.Recv, ShapeIovec, true, "do_readv", "readv", ProgKprobeReadv, ProgTpEnterReadv),
	dataRow(event.SysRecvfrom, event.Recv, ShapeBuffer, true, "__sys_recvfrom", "recvfrom", ProgKprobeRecvfrom, ProgTpEnterRecvfrom),
	dataRow(event.SysRecvmsg, event.Recv, ShapeMsghdr, true, "__sys_recvmsg", "recvmsg", ProgKprobeRecvmsg, ProgTpEnterRecvmsg),
	dataRow(event.SysWrite, event.Send, ShapeBuffer, true, "ksys_write", "write", ProgKprobeWrite, ProgTpEnterWrite),
	dataRow(event.SysWritev, event.Send, ShapeIovec, true, "do_writev", "writev", ProgKprobeWritev, ProgTpEnterWritev),
	dataRow(event.SysSendto, event.Send, ShapeBuffer, true, "__sys_sendto", "sendto", ProgKprobeSendto, ProgTpEnterSendto),
	dataRow(event.SysSendmsg, event.Send, ShapeMsghdr, true, "__sys_sendmsg", "sendmsg", ProgKprobeSendmsg, ProgTpEnterSendmsg),
	// do_sendfile is a static function: optional, in case a kernel inlines it.
	dataRow(event.SysSendfile, event.Send, ShapeSendfile, false, "do_sendfile", "sendfile64", ProgKprobeSendfile, ProgTpEnterSendfile),
	{
		Name: "accept",
		Doc:  "an accept returns a socket: its connection is the server side (a hint; connections are found without it)",
		Hooks: []Hook{hook("accept", Return, ProgKretprobeAccept, ProgTpExitAccept,
			[]string{"kretprobe:__sys_accept4"},
			[]string{"tracepoint:syscalls:sys_exit_accept4", "tracepoint:syscalls:sys_exit_accept"})},
	},
	{
		Name: "connect",
		Doc:  "a connect succeeds: its connection is the client side (a hint)",
		Hooks: []Hook{
			hook("connect", Entry, ProgKprobeConnect, ProgTpEnterConnect,
				[]string{"kprobe:__sys_connect"}, []string{"tracepoint:syscalls:sys_enter_connect"}),
			hook("connect", Return, ProgKretprobeReturn, ProgTpExit,
				[]string{"kretprobe:__sys_connect"}, []string{"tracepoint:syscalls:sys_exit_connect"}),
		},
	},
	{
		Name:     "close",
		Doc:      "a close drops the last reference to a connection's socket: a close record, the connection is forgotten",
		Required: true,
		Hooks: []Hook{hook("close", Entry, ProgKprobeClose, ProgTpEnterClose,
			// close(2) calls file_close_fd since Linux 6.8, close_fd before.
			[]string{"kprobe:file_close_fd | kprobe:close_fd"}, []string{"tracepoint:syscalls:sys_enter_close"})},
	},
	{
		Name: "listen",
		Doc:  "a listen starts: with --port, a process listening on a selected port is traced from then on",
		Hooks: []Hook{hook("listen", Entry, ProgKprobeListen, ProgTpEnterListen,
			[]string{"kprobe:__sys_listen"}, []string{"tracepoint:syscalls:sys_enter_listen"})},
	},
	{
		Name: "tls_map",
		Doc:  "a traced process maps a TLS library (libssl) executable: the library is probed before the process can call it",
		Hooks: []Hook{hook("tls_map", Entry, ProgKprobeMmap, ProgTpEnterMmap,
			[]string{"kprobe:ksys_mmap_pgoff"}, []string{"tracepoint:syscalls:sys_enter_mmap"})},
	},
	eventRow("sock_end", "a released socket reaches TCP CLOSE with no close(2) seen (close_range, dup2, exit, exec, another thread's close): the connection ends where its counts say",
		ProgSockState, "inet_sock_set_state"),
	eventRow("sock_destroy", "a TCP socket is destroyed while its connection is still known: the connection ends",
		ProgSockDestroy, "tcp_destroy_sock"),
	eventRow("proc_fork", "a tracked process forks: the child process (not a new thread) is tracked", ProgProcFork, "sched_process_fork"),
	eventRow("proc_exec", "a process execs: tracked when its new name is one of the configured names", ProgProcExec, "sched_process_exec"),
	eventRow("proc_exit", "the last thread of a tracked process exits: the process is untracked", ProgProcExit, "sched_process_exit"),
}

// hook builds the hook of one side of a syscall row.
func hook(row string, side Side, kprog, tprog string, kdefaults, tdefaults []string) Hook {
	return Hook{
		Role:     Role(row + "_" + string(side)),
		Side:     side,
		Programs: map[Mode]string{ModeKprobe: kprog, ModeTracepoint: tprog},
		Defaults: map[Mode][]string{ModeKprobe: kdefaults, ModeTracepoint: tdefaults},
	}
}

// dataRow builds a data syscall's row: its entry program per mode, the
// shared return programs, at the kernel function kfunc or the syscall's
// tracepoints.
func dataRow(sys event.Syscall, dir event.Direction, shape Shape, required bool, kfunc, tpName, kprog, tprog string) Row {
	name := sys.String()
	return Row{
		Name: name, Syscall: sys, Dir: dir, Shape: shape, Required: required,
		Doc: "bytes " + map[event.Direction]string{event.Recv: "read from", event.Send: "written to"}[dir] +
			" a stream socket (TCP or unix) with " + name + " (" + string(shape) + ")",
		Hooks: []Hook{
			hook(name, Entry, kprog, tprog, []string{"kprobe:" + kfunc}, []string{"tracepoint:syscalls:sys_enter_" + tpName}),
			hook(name, Return, ProgKretprobeReturn, ProgTpExit, []string{"kretprobe:" + kfunc}, []string{"tracepoint:syscalls:sys_exit_" + tpName}),
		},
	}
}

// eventRow builds a kernel event's row: one raw tracepoint program in every mode.
func eventRow(name, doc, prog, tracepoint string) Row {
	spec := []string{"rawtracepoint:" + tracepoint}
	return Row{
		Name: name, Doc: doc, Required: true,
		Hooks: []Hook{{
			Role:     Role(name),
			Side:     Event,
			Programs: map[Mode]string{ModeKprobe: prog, ModeTracepoint: prog},
			Defaults: map[Mode][]string{ModeKprobe: spec, ModeTracepoint: spec},
		}},
	}
}

// Lookup returns the row and hook of a role.
func Lookup(r Role) (Row, Hook, bool) {
	for _, row := range Table {
		for _, h := range row.Hooks {
			if h.Role == r {
				return row, h, true
			}
		}
	}
	return Row{}, Hook{}, false
}

// RoleNames lists the roles in table order, for messages.
func RoleNames() []string {
	var names []string
	for _, row := range Table {
		for _, h := range row.Hooks {
			names = append(names, string(h.Role))
		}
	}
	return names
}

// ProgramNames lists every program the table and Uprobes name, once each,
// in table order.
func ProgramNames() []string {
	seen := map[string]bool{}
	var names []string
	for _, row := range Table {
		for _, h := range row.Hooks {
			for _, m := range Modes {
				if p := h.Programs[m]; !seen[p] {
					seen[p] = true
					names = append(names, p)
				}
			}
		}
	}
	return append(names, UprobePrograms()...)
}
