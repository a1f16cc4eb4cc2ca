/* Selection by port: processes that listen or accept on a selected server port are traced. */
#ifndef HTTPTRACE_LISTEN_H
#define HTTPTRACE_LISTEN_H

#include "conn.h"
#include "proc.h"

/* IPPROTO_MPTCP: Go (1.24 and later) listens with multipath TCP by default. */
#define HT_IPPROTO_MPTCP 262

/*
 * Whether file is a TCP (or MPTCP) socket, IPv4 or IPv6, bound to a
 * selected server port: a listening socket, or one accepted from it.
 */
static __always_inline bool on_server_port(struct file *file)
{
	struct sock *sk = stream_sock_of_file(file);
	__u16 family, proto;

	if (!sk)
		return false;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	proto = BPF_CORE_READ(sk, sk_protocol);
	if ((family != HT_AF_INET && family != HT_AF_INET6) || (proto != IPPROTO_TCP && proto != HT_IPPROTO_MPTCP))
		return false;
	return port_has(BPF_CORE_READ(sk, __sk_common.skc_num), HTTPTRACE_PORT_SERVER);
}

/*
 * Tracks the calling process pid, found serving a selected server port, and
 * tells user space (which tracks the children it already has). Never pid
 * 1: an init that holds sockets for the services it starts (socket
 * activation) would bring in every process started after it; the service
 * is found by its own listen or accept.
 */
static __always_inline bool track_listener(__u32 pid)
{
	struct task_struct *task;

	if (pid == 1 || pid == self_pid || !track(pid))
		return false;
	stat_inc(HTTPTRACE_STAT_PORT_LISTENERS);
	task = (struct task_struct *)bpf_get_current_task();
	emit_proc(HTTPTRACE_PROC_LISTEN, pid, BPF_CORE_READ(task, real_parent, tgid), task);
	return true;
}

/*
 * A listen starts: a process that is not tracked yet and listens on a
 * selected server port is tracked from now on.
 */
static __always_inline int on_listen_entry(__s32 fd)
{
	__u32 pid;

	if (!port_select)
		return 0;
	pid = bpf_get_current_pid_tgid() >> 32;
	if (!bpf_map_lookup_elem(&tracked_pids, &pid) && on_server_port(fd_file(fd)))
		track_listener(pid);
	return 0;
}

#endif /* HTTPTRACE_LISTEN_H */
