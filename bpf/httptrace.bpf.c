// SPDX-License-Identifier: GPL-2.0
/* The programs: thin wrappers that unpack each attach point's arguments for syscalls.h and proc.h. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "syscalls.h"
#include "proc.h"
#include "gotls.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * Kprobe mode. Sections carry no target: user space attaches each program to
 * the function the probe table (or the configuration) names.
 */

/*
 * The data syscalls: name, syscall, direction, shape, and which argument
 * holds the recv flags (0: none). Each gets a kprobe program kprobe_<name>
 * and a tracepoint program tp_enter_<name>, whose arguments are (fd,
 * pointer, count or iovec count, ...): recvfrom(fd, buf, len, flags, ...)
 * and recvmsg(fd, msg, flags), as __sys_recvfrom and __sys_recvmsg take
 * them too. For sendfile (do_sendfile, sendfile64) the fd is out_fd, the
 * socket.
 */
#define DATA_SYSCALLS(X)                                           \
	X(read, HTTPTRACE_SYS_READ, HTTPTRACE_DIR_RECV, SHAPE_BUFFER, 0)         \
	X(readv, HTTPTRACE_SYS_READV, HTTPTRACE_DIR_RECV, SHAPE_IOVEC, 0)        \
	X(recvfrom, HTTPTRACE_SYS_RECVFROM, HTTPTRACE_DIR_RECV, SHAPE_BUFFER, 3) \
	X(recvmsg, HTTPTRACE_SYS_RECVMSG, HTTPTRACE_DIR_RECV, SHAPE_IOVEC, 2)    \
	X(write, HTTPTRACE_SYS_WRITE, HTTPTRACE_DIR_SEND, SHAPE_BUFFER, 0)       \
	X(writev, HTTPTRACE_SYS_WRITEV, HTTPTRACE_DIR_SEND, SHAPE_IOVEC, 0)      \
	X(sendto, HTTPTRACE_SYS_SENDTO, HTTPTRACE_DIR_SEND, SHAPE_BUFFER, 0)     \
	X(sendmsg, HTTPTRACE_SYS_SENDMSG, HTTPTRACE_DIR_SEND, SHAPE_IOVEC, 0)    \
	X(sendfile, HTTPTRACE_SYS_SENDFILE, HTTPTRACE_DIR_SEND, SHAPE_SENDFILE, 0)

#define KPROBE_DATA(name, sys, dir, shape, flagarg)                                       \
	SEC("kprobe")                                                                     \
	int BPF_KPROBE(kprobe_##name, long fd, __u64 ptr, __u64 n, __u64 a3)              \
	{                                                                                 \
		__u64 flags = flagarg == 2 ? n : flagarg == 3 ? a3 : 0;                   \
		return on_data_entry((__s32)fd, ptr, n, flags, sys, dir, shape);          \
	}

DATA_SYSCALLS(KPROBE_DATA)

SEC("kprobe")
int BPF_KPROBE(kprobe_connect, long fd)
{
	return on_connect_entry((__s32)fd);
}

SEC("kprobe")
int BPF_KPROBE(kprobe_listen, long fd)
{
	return on_listen_entry((__s32)fd);
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

/* __sys_accept4 returns int: the register's upper half is not its sign. */
SEC("kretprobe")
int BPF_KRETPROBE(kretprobe_accept, long ret)
{
	return on_accept_return((int)ret);
}

/*
 * Tracepoint mode: syscalls:sys_enter_* give the syscall's arguments,
 * syscalls:sys_exit_* its return value.
 */

#define TP_DATA(name, sys, dir, shape, flagarg)                                                  \
	SEC("tracepoint")                                                                       \
	int tp_enter_##name(struct trace_event_raw_sys_enter *ctx)                              \
	{                                                                                       \
		__u64 flags = flagarg ? ctx->args[flagarg] : 0;                                 \
		return on_data_entry((__s32)ctx->args[0], ctx->args[1], ctx->args[2], flags, sys, dir, shape); \
	}

DATA_SYSCALLS(TP_DATA)

SEC("tracepoint")
int tp_enter_connect(struct trace_event_raw_sys_enter *ctx)
{
	return on_connect_entry((__s32)ctx->args[0]);
}

SEC("tracepoint")
int tp_enter_listen(struct trace_event_raw_sys_enter *ctx)
{
	return on_listen_entry((__s32)ctx->args[0]);
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

/* Sockets, in every mode: inet_sock_set_state(sk, oldstate, newstate), tcp_destroy_sock(sk). */
SEC("raw_tracepoint")
int raw_tp_sock_state(struct bpf_raw_tracepoint_args *ctx)
{
	return on_sock_state((struct sock *)ctx->args[0], (int)ctx->args[1], (int)ctx->args[2]);
}

SEC("raw_tracepoint")
int raw_tp_sock_destroy(struct bpf_raw_tracepoint_args *ctx)
{
	return on_sock_destroy((struct sock *)ctx->args[0]);
}

/*
 * TLS libraries, in every mode: uprobes and uretprobes that user space
 * attaches to each library file (by inode) a traced process maps.
 * OpenSSL: SSL_read(ssl, buf, num), SSL_write(ssl, buf, num) return the
 * count; SSL_read_ex(ssl, buf, num, *readbytes) and SSL_write_ex(ssl, buf,
 * num, *written) return 1 and write it.
 */
SEC("uprobe")
int BPF_UPROBE(uprobe_ssl_read, __u64 ssl, __u64 buf)
{
	return on_tls_entry(ssl, buf, 0, HTTPTRACE_DIR_RECV, PT_REGS_SP(ctx));
}

SEC("uprobe")
int BPF_UPROBE(uprobe_ssl_write, __u64 ssl, __u64 buf)
{
	return on_tls_entry(ssl, buf, 0, HTTPTRACE_DIR_SEND, PT_REGS_SP(ctx));
}

SEC("uprobe")
int BPF_UPROBE(uprobe_ssl_read_ex, __u64 ssl, __u64 buf, __u64 num, __u64 size_ptr)
{
	return on_tls_entry(ssl, buf, size_ptr, HTTPTRACE_DIR_RECV, PT_REGS_SP(ctx));
}

SEC("uprobe")
int BPF_UPROBE(uprobe_ssl_write_ex, __u64 ssl, __u64 buf, __u64 num, __u64 size_ptr)
{
	return on_tls_entry(ssl, buf, size_ptr, HTTPTRACE_DIR_SEND, PT_REGS_SP(ctx));
}

/* Every TLS read and write returns here: an int, whose upper half of the register is not defined. */
SEC("uretprobe")
int BPF_URETPROBE(uretprobe_tls, int ret)
{
	return on_tls_return(ret, PT_REGS_SP(ctx));
}

/*
 * Go's crypto/tls, in every mode: uprobes at (*Conn).Read and Write and at
 * each RET instruction of theirs (no uretprobes in Go).
 */
SEC("uprobe")
int uprobe_go_tls_read(struct pt_regs *ctx)
{
	return on_go_tls_entry(ctx, HTTPTRACE_DIR_RECV);
}

SEC("uprobe")
int uprobe_go_tls_write(struct pt_regs *ctx)
{
	return on_go_tls_entry(ctx, HTTPTRACE_DIR_SEND);
}

SEC("uprobe")
int uprobe_go_tls_read_ret(struct pt_regs *ctx)
{
	return on_go_tls_return(ctx, HTTPTRACE_DIR_RECV);
}

SEC("uprobe")
int uprobe_go_tls_write_ret(struct pt_regs *ctx)
{
	return on_go_tls_return(ctx, HTTPTRACE_DIR_SEND);
}

/* A mapping: mmap(addr, len, prot, flags, fd, off), ksys_mmap_pgoff taking the same. */
SEC("kprobe")
int BPF_KPROBE(kprobe_mmap, __u64 addr, __u64 len, __u64 prot, __u64 flags, long fd)
{
	return on_mmap_entry(prot, (__s32)fd);
}

SEC("tracepoint")
int tp_enter_mmap(struct trace_event_raw_sys_enter *ctx)
{
	return on_mmap_entry(ctx->args[2], (__s32)ctx->args[4]);
}
