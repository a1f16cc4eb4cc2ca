// SPDX-License-Identifier: GPL-2.0
/* The programs: one per role and attach kind, each a thin wrapper around sockets.h. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "sockets.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * Kprobe mode. Sections carry no target: user space attaches each program to
 * the symbol the configuration names (kprobe:ksys_read by default).
 */

SEC("kretprobe")
int BPF_KRETPROBE(kretprobe_accept_return, long ret)
{
	return on_accept_return(ret);
}

SEC("kprobe")
int BPF_KPROBE(kprobe_read_entry, unsigned int fd, char *buf)
{
	return on_read_entry((__s32)fd, (__u64)buf);
}

SEC("kretprobe")
int BPF_KRETPROBE(kretprobe_read_return, long ret)
{
	return on_read_return(ctx, ret);
}

SEC("kprobe")
int BPF_KPROBE(kprobe_close_entry, unsigned int fd)
{
	return on_close_entry((__s32)fd);
}

/*
 * Tracepoint mode: syscalls:sys_enter_* give the syscall's arguments,
 * syscalls:sys_exit_* its return value.
 */

SEC("tracepoint")
int tracepoint_accept_return(struct trace_event_raw_sys_exit *ctx)
{
	return on_accept_return(ctx->ret);
}

SEC("tracepoint")
int tracepoint_read_entry(struct trace_event_raw_sys_enter *ctx)
{
	return on_read_entry((__s32)ctx->args[0], (__u64)ctx->args[1]);
}

SEC("tracepoint")
int tracepoint_read_return(struct trace_event_raw_sys_exit *ctx)
{
	return on_read_return(ctx, ctx->ret);
}

SEC("tracepoint")
int tracepoint_close_entry(struct trace_event_raw_sys_enter *ctx)
{
	return on_close_entry((__s32)ctx->args[0]);
}
