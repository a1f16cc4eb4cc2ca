/* Data copy shapes: one buffer, an iovec array, or nothing (sendfile), each sent as data records. */
#ifndef HTTPTRACE_COPY_H
#define HTTPTRACE_COPY_H

#include "conn.h"
#include "emit.h"

/* Bytes of each transfer to copy, set by user space before load. */
const volatile __u32 capture_bytes = 1024;

/*
 * Advances a stream position by n bytes and returns where they start.
 * Kernels before 5.12 have no atomic fetch-and-add (BPF_FETCH) and refuse it
 * even in code that never runs, so they get an object built with
 * HTTPTRACE_NO_ATOMIC_FETCH: the position is read, then advanced with a
 * plain atomic add, which two threads moving bytes on one socket in the same
 * direction at once could interleave.
 */
static __always_inline __u64 advance(__u64 *pos, __u64 n)
{
#ifdef HTTPTRACE_NO_ATOMIC_FETCH
	__u64 old = *pos;

	__sync_fetch_and_add(pos, n);
	return old;
#else
	return __sync_fetch_and_add(pos, n);
#endif
}

/* Fills the parts of a data record that all records of one call share. */
static __always_inline void fill_header(struct httptrace_data *d, const struct call *c, const struct conn *conn)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();

	d->kind = HTTPTRACE_REC_DATA;
	d->pid = pid_tgid >> 32;
	d->tid = (__u32)pid_tgid;
	d->fd = c->fd;
	d->start_ns = c->start_ns;
	d->end_ns = bpf_ktime_get_ns();
	d->conn = c->conn;
	d->dir = c->dir;
	d->syscall = c->syscall;
	d->family = conn->family;
	d->flags = conn->flags;
	d->local_port = conn->local_port;
	d->peer_port = conn->peer_port;
	d->pad = 0;
	__builtin_memcpy(d->local_addr, conn->local_addr, HTTPTRACE_ADDR_LEN);
	__builtin_memcpy(d->peer_addr, conn->peer_addr, HTTPTRACE_ADDR_LEN);
#ifdef HTTPTRACE_TASK_BTF
	/* Two plain loads rather than a helper call (the bytes after the NUL as they are). */
	struct task_struct *task = bpf_get_current_task_btf();

	__builtin_memcpy(d->comm, task->comm, HTTPTRACE_COMM_LEN);
#else
	bpf_get_current_comm(d->comm, sizeof(d->comm));
#endif
}

/*
 * Sends one data record for len bytes at stream position pos, copying up to
 * capture_bytes of them from src (0: copy nothing), after the part before
 * skip_to that user space asked to leave out.
 */
static __always_inline void send_span(struct httptrace_data *d, __u64 pos, __u64 len, __u64 src, __u64 skip_to)
{
	__u64 skip = 0, n; /* 64-bit: see the bound on n below */

	if (skip_to > pos) {
		skip = skip_to - pos;
		if (skip > len)
			skip = len;
		stat_inc(HTTPTRACE_STAT_SKIPS);
	}
	/*
	 * Copy no more than is left, the configured size, or the buffer. n is
	 * pinned to a register before the last bound: otherwise clang may test a
	 * 32-bit copy of it and pass the unbounded register to the helper, which
	 * the 5.10 verifier rejects.
	 */
	n = src ? len - skip : 0;
	if (n > capture_bytes)
		n = capture_bytes;
	barrier_var(n);
	if (n > HTTPTRACE_MAX_CAPTURE_BYTES)
		n = HTTPTRACE_MAX_CAPTURE_BYTES;
	if (n && bpf_probe_read_user(d->data, n, (const void *)(src + skip))) {
		stat_inc(HTTPTRACE_STAT_READ_USER_FAILED);
		n = 0;
	}
	d->pos = pos;
	d->bytes = len > 0xffffffff ? 0xffffffff : (__u32)len;
	d->captured_off = skip;
	d->captured_bytes = n;
	emit(d, offsetof(struct httptrace_data, data) + n);
}

/*
 * Sends the bytes of an iovec transfer: one record per iovec, positions
 * following each other. The iovec array is read in one copy. Past
 * HTTPTRACE_MAX_IOVS entries, or when the array cannot be read, the rest
 * goes as one record with nothing copied.
 */
static __always_inline void send_iovecs(struct scratch *s, const struct call *c, __u64 pos, __u64 bytes, __u64 skip_to)
{
	__u64 done = 0, len, count = c->iovlen;

	if (count > HTTPTRACE_MAX_IOVS)
		count = HTTPTRACE_MAX_IOVS;
	barrier_var(count); /* a bounded register for the helper, as in send_span */
	if (count > HTTPTRACE_MAX_IOVS)
		count = HTTPTRACE_MAX_IOVS;
	if (count && bpf_probe_read_user(s->iov, count * sizeof(struct iovec), (const void *)c->ptr)) {
		stat_inc(HTTPTRACE_STAT_READ_USER_FAILED);
		count = 0;
	}
	for (int i = 0; i < HTTPTRACE_MAX_IOVS; i++) {
		if (i >= count || done >= bytes)
			break;
		len = s->iov[i].iov_len;
		if (len > bytes - done)
			len = bytes - done;
		if (!len)
			continue;
		send_span(&s->rec, pos + done, len, (__u64)s->iov[i].iov_base, skip_to);
		done += len;
	}
	if (done < bytes) {
		stat_inc(HTTPTRACE_STAT_IOV_CUT);
		send_span(&s->rec, pos + done, bytes - done, 0, skip_to);
	}
}

/*
 * A data syscall moved bytes: advance the connection's position by all of
 * them, whether or not the records reach user space, and send them.
 */
static __always_inline void send_transfer(const struct call *c, __u64 bytes)
{
	struct scratch *s;
	struct httptrace_data *d;
	struct conn *conn;
	__u64 pos, skip_to;
	__u32 zero = 0;

	conn = bpf_map_lookup_elem(&conns, &c->conn);
	if (!conn) {
		/* First seen on data (or evicted): adopted, unless this read got its first bytes. */
		__u8 flag = HTTPTRACE_CONN_ADOPTED;

		if (c->dir == HTTPTRACE_DIR_RECV && read_from_start((struct sock *)c->sk, bytes))
			flag = 0;
		conn = conn_get(c->conn, (struct sock *)c->sk, flag);
	}
	if (!conn) {
		stat_inc(HTTPTRACE_STAT_CONNS_LOST);
		return;
	}
	pos = advance(&conn->pos[c->dir & 1], bytes);
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return;
	d = &s->rec;
	fill_header(d, c, conn);
	skip_to = conn_skip_to(c->conn, c->dir);
	switch (c->shape) {
	case SHAPE_BUFFER:
		send_span(d, pos, bytes, c->ptr, skip_to);
		break;
	case SHAPE_IOVEC:
		send_iovecs(s, c, pos, bytes, skip_to);
		break;
	default: /* SHAPE_SENDFILE: the bytes never pass through user memory */
		send_span(d, pos, bytes, 0, skip_to);
		break;
	}
}

#endif /* HTTPTRACE_COPY_H */
