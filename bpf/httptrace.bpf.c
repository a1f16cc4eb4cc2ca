// SPDX-License-Identifier: GPL-2.0
/* The programs: thin wrappers that unpack each attach point's arguments for syscalls.h and proc.h. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "syscalls.h"
#include "proc.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * Kprobe mode. Sections carry no target: user space attaches each program to
 * the function the probe table (or the configuration) names.
 */

/* A data function (fd, pointer, count or iovec count, ...) starts. */
#define KPROBE_DATA(prog, sys, dir, shape)                                        \
	SEC("kprobe")                                                             \
	int BPF_KPROBE(prog, long fd, __u64 ptr, __u64 n)                         \
	{                                                                         \
		return on_data_entry((__s32)fd, ptr, n, sys, dir, shape);         \
	}

KPROBE_DATA(kprobe_read, HTTPTRACE_SYS_READ, HTTPTRACE_DIR_RECV, SHAPE_BUFFER)
KPROBE_DATA(kprobe_readv, HTTPTRACE_SYS_READV, HTTPTRACE_DIR_RECV, SHAPE_IOVEC)
KPROBE_DATA(kprobe_recvfrom, HTTPTRACE_SYS_RECVFROM, HTTPTRACE_DIR_RECV, SHAPE_BUFFER)
KPROBE_DATA(kprobe_recvmsg, HTTPTRACE_SYS_RECVMSG, HTTPTRACE_DIR_RECV, SHAPE_IOVEC)
KPROBE_DATA(kprobe_write, HTTPTRACE_SYS_WRITE, HTTPTRACE_DIR_SEND, SHAPE_BUFFER)
KPROBE_DATA(kprobe_writev, HTTPTRACE_SYS_WRITEV, HTTPTRACE_DIR_SEND, SHAPE_IOVEC)
KPROBE_DATA(kprobe_sendto, HTTPTRACE_SYS_SENDTO, HTTPTRACE_DIR_SEND, SHAPE_BUFFER)
KPROBE_DATA(kprobe_sendmsg, HTTPTRACE_SYS_SENDMSG, HTTPTRACE_DIR_SEND, SHAPE_IOVEC)
/* do_sendfile(out_fd, in_fd, ...): the socket is out_fd. */
KPROBE_DATA(kprobe_sendfile, HTTPTRACE_SYS_SENDFILE, HTTPTRACE_DIR_SEND, SHAPE_SENDFILE)

SEC("kprobe")
int BPF_KPROBE(kprobe_connect, long fd)
{
	return on_connect_entry((__s32)fd);
}

SEC("kprobe")
int BPF_KPROBE(kprobe_close, long fd)
{
	return on_close_entry((__s32)fd);
}

/* Every data function and connect returns here. */
SEC("kretprobe")
int BPF_KRETPROBE(kretprobe_return, long ret)
{
	return on_call_return(ret);
}

SEC("kretprobe")
int BPF_KRETPROBE(kretprobe_accept, long ret)
{
	return on_accept_return(ret);
}

/*
 * Tracepoint mode: syscalls:sys_enter_* give the syscall's arguments,
 * syscalls:sys_exit_* its return value.
 */

#define TP_DATA(prog, sys, dir, shape)                                                          \
	SEC("tracepoint")                                                                       \
	int prog(struct trace_event_raw_sys_enter *ctx)                                         \
	{                                                                                       \
		return on_data_entry((__s32)ctx->args[0], ctx->args[1], ctx->args[2], sys, dir, shape); \
	}

TP_DATA(tp_enter_read, HTTPTRACE_SYS_READ, HTTPTRACE_DIR_RECV, SHAPE_BUFFER)
TP_DATA(tp_enter_readv, HTTPTRACE_SYS_READV, HTTPTRACE_DIR_RECV, SHAPE_IOVEC)
TP_DATA(tp_enter_recvfrom, HTTPTRACE_SYS_RECVFROM, HTTPTRACE_DIR_RECV, SHAPE_BUFFER)
TP_DATA(tp_enter_recvmsg, HTTPTRACE_SYS_RECVMSG, HTTPTRACE_DIR_RECV, SHAPE_IOVEC)
TP_DATA(tp_enter_write, HTTPTRACE_SYS_WRITE, HTTPTRACE_DIR_SEND, SHAPE_BUFFER)
TP_DATA(tp_enter_writev, HTTPTRACE_SYS_WRITEV, HTTPTRACE_DIR_SEND, SHAPE_IOVEC)
TP_DATA(tp_enter_sendto, HTTPTRACE_SYS_SENDTO, HTTPTRACE_DIR_SEND, SHAPE_BUFFER)
TP_DATA(tp_enter_sendmsg, HTTPTRACE_SYS_SENDMSG, HTTPTRACE_DIR_SEND, SHAPE_IOVEC)
/* sendfile64(out_fd, in_fd, ...): the socket is out_fd. */
TP_DATA(tp_enter_sendfile, HTTPTRACE_SYS_SENDFILE, HTTPTRACE_DIR_SEND, SHAPE_SENDFILE)

SEC("tracepoint")
int tp_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	return on_connect_entry((__s32)ctx->args[0]);
}

SEC("tracepoint")
int tp_enter_close(struct trace_event_raw_sys_enter *ctx)
{
	return on_close_entry((__s32)ctx->args[0]);
}

/* Every data syscall and connect exits here. */
SEC("tracepoint")
int tp_exit(struct trace_event_raw_sys_exit *ctx)
{
	return on_call_return(ctx->ret);
}

SEC("tracepoint")
int tp_exit_accept(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_return(ctx->ret);
}

/*
 * Processes, in every mode: raw tracepoints, whose arguments are the
 * tracepoint's own (sched_process_fork: parent, child).
 */

SEC("raw_tracepoint")
int raw_tp_proc_fork(struct bpf_raw_tracepoint_args *ctx)
{
	return on_fork((struct task_struct *)ctx->args[0], (struct task_struct *)ctx->args[1]);
}

SEC("raw_tracepoint")
int raw_tp_proc_exec(struct bpf_raw_tracepoint_args *ctx)
{
	return on_exec();
}

SEC("raw_tracepoint")
int raw_tp_proc_exit(struct bpf_raw_tracepoint_args *ctx)
{
	return on_exit();
}
