/* A data record of one call: its header, how much of the call to copy, and its sending. */
#ifndef HTTPTRACE_RECORD_H
#define HTTPTRACE_RECORD_H

#include "conn.h"
#include "emit.h"

/* Bytes of each transfer to copy, set by user space before load. */
const volatile __u32 capture_bytes = 1024;

/* Fills the header of the data record of a call of thread pid_tgid on connection id. */
static __always_inline void fill_header(struct httptrace_data *d, const struct call *c, __u64 pid_tgid, __u64 id,
					const struct conn *conn)
{
	d->kind = HTTPTRACE_REC_DATA;
	d->pid = pid_tgid >> 32;
	d->tid = (__u32)pid_tgid;
	d->fd = c->fd;
	d->start_ns = c->start_ns;
	d->end_ns = bpf_ktime_get_ns();
	d->conn = id;
	d->dir = c->dir;
	d->syscall = c->syscall;
	d->family = conn->family;
	d->flags = conn->flags;
	d->local_port = conn->local_port;
	d->peer_port = conn->peer_port;
	d->source = HTTPTRACE_SRC_SYSCALL;
	d->version = HTTPTRACE_FORMAT_VERSION;
	d->part = 0;
	d->gen = conn->gen;
	d->cgroup_id = bpf_get_current_cgroup_id();
	__builtin_memcpy(d->local_addr, conn->local_addr, HTTPTRACE_ADDR_LEN);
	__builtin_memcpy(d->peer_addr, conn->peer_addr, HTTPTRACE_ADDR_LEN);
	if (HT_TASK_BTF) {
		/* Two plain loads rather than a helper call (the bytes after the NUL as they are). */
		struct task_struct *task = bpf_get_current_task_btf();

		__builtin_memcpy(d->comm, task->comm, HTTPTRACE_COMM_LEN);
	} else {
		bpf_get_current_comm(d->comm, sizeof(d->comm));
	}
}

/*
 * How much of a transfer of len bytes at stream position pos to copy: the
 * part before skip_to (which user space asked to leave out) is skipped
 * (*skip), and at most capture_bytes of the rest are copied.
 */
static __always_inline __u64 capture_window(__u64 pos, __u64 len, __u64 skip_to, __u64 *skip)
{
	__u64 n;

	*skip = 0;
	if (skip_to > pos) {
		*skip = skip_to - pos;
		if (*skip > len)
			*skip = len;
		stat_inc(HTTPTRACE_STAT_SKIPS);
	}
	n = len - *skip;
	if (n > capture_bytes)
		n = capture_bytes;
	return n;
}

/* Completes a data record for len bytes at pos, n of them copied from off, and sends it. */
static __always_inline void send_record(struct httptrace_data *d, __u64 pos, __u64 len, __u64 off, __u64 n)
{
	d->pos = pos;
	d->bytes = len > 0xffffffff ? 0xffffffff : (__u32)len;
	d->captured_off = off;
	d->captured_bytes = n;
	emit(d, offsetof(struct httptrace_data, data) + n);
}

/*
 * Sends one data record for len bytes at stream position pos, copying what
 * capture_window allows from src (0: copy nothing).
 */
static __always_inline void send_span(struct httptrace_data *d, __u64 pos, __u64 len, __u64 src, __u64 skip_to)
{
	__u64 skip, n; /* 64-bit: see the bound on n below */

	n = capture_window(pos, len, skip_to, &skip);
	if (!src)
		n = 0;
	/*
	 * n is pinned to a register before the last bound: otherwise clang may
	 * test a 32-bit copy of it and pass the unbounded register to the
	 * helper, which the 5.10 verifier rejects.
	 */
	barrier_var(n);
	if (n > HTTPTRACE_MAX_CAPTURE_BYTES)
		n = HTTPTRACE_MAX_CAPTURE_BYTES;
	if (n && bpf_probe_read_user(d->data, n, (const void *)(src + skip))) {
		stat_inc(HTTPTRACE_STAT_READ_USER_FAILED);
		n = 0;
	}
	send_record(d, pos, len, skip, n);
}

#endif /* HTTPTRACE_RECORD_H */
