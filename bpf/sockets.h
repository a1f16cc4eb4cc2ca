/* The logic every attach mode shares: track accepted sockets, pair read entry and return, emit requests. */
#ifndef HTTPTRACE_SOCKETS_H
#define HTTPTRACE_SOCKETS_H

#include "event.h"
#include "maps.h"
#include "http.h"

/* Bytes of each request to copy, set by user space before load. */
const volatile __u32 capture_bytes = 512;

static __always_inline void stat_inc(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &which);

	if (v)
		*v += 1;
}

/* The calling process (tgid) when it is tracked, else 0. */
static __always_inline __u32 tracked_pid(void)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	return bpf_map_lookup_elem(&tracked_pids, &pid) ? pid : 0;
}

/* An accept of a tracked process returned: remember the new socket. */
static __always_inline int on_accept_return(long ret)
{
	struct socket_key key = {};
	struct carry none = {};

	if (ret < 0)
		return 0;
	key.pid = tracked_pid();
	if (!key.pid)
		return 0;
	key.fd = (__s32)ret;
	bpf_map_update_elem(&active_sockets, &key, &none, BPF_ANY);
	stat_inc(HTTPTRACE_STAT_SOCKETS_TRACKED);
	return 0;
}

/* A read starts: on a tracked socket, save where its data will land. */
static __always_inline int on_read_entry(__s32 fd, __u64 buf)
{
	struct socket_key key = {};
	struct read_args args = {};
	struct carry *carry;
	__u64 id = bpf_get_current_pid_tgid();

	key.pid = id >> 32;
	key.fd = fd;
	carry = bpf_map_lookup_elem(&active_sockets, &key);
	if (!carry)
		return 0;
	/* This thread's previous read never reached its return probe. */
	if (bpf_map_lookup_elem(&read_args, &id))
		stat_inc(HTTPTRACE_STAT_RETURNS_MISSED);
	args.buf = buf;
	args.fd = fd;
	args.carry = *carry;
	bpf_map_update_elem(&read_args, &id, &args, BPF_ANY);
	stat_inc(HTTPTRACE_STAT_READS);
	return 0;
}

/* Keep the bytes of a read too short to tell, or forget them (len 0). */
static __always_inline void set_carry(struct socket_key *key, const __u8 *data, __u64 len)
{
	struct carry *carry = bpf_map_lookup_elem(&active_sockets, key);

	if (!carry)
		return;
	for (int i = 0; i < HTTPTRACE_CARRY_BYTES; i++)
		if (i < len)
			carry->bytes[i] = data[i];
	carry->len = len;
}

/* A read returns: copy what it read and emit it when it starts a request. */
static __always_inline int on_read_return(void *ctx, long ret)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct socket_key key = {};
	struct read_args *saved, args;
	struct httptrace_event *e;
	__u32 zero = 0;
	__u64 n, carried, total; /* 64-bit: see the bound on n below */

	saved = bpf_map_lookup_elem(&read_args, &id);
	if (!saved)
		return 0;
	args = *saved;
	bpf_map_delete_elem(&read_args, &id);
	stat_inc(HTTPTRACE_STAT_READ_RETURNS);
	if (ret <= 0)
		return 0; /* a carry, if any, waits for the next read */

	e = bpf_map_lookup_elem(&event_scratch, &zero);
	if (!e)
		return 0;
	key.pid = id >> 32;
	key.fd = args.fd;

	/* Put back the bytes an earlier short read left over. */
	carried = args.carry.len;
	if (carried > HTTPTRACE_CARRY_BYTES)
		carried = 0;
	for (int i = 0; i < HTTPTRACE_CARRY_BYTES; i++)
		if (i < carried)
			e->data[i] = args.carry.bytes[i];

	/*
	 * Copy no more than was read, the configured size, or the buffer. n is
	 * 64-bit and pinned to a register before the last bound: otherwise
	 * clang may test a 32-bit copy of it and pass the unbounded register to
	 * the helper, which the 5.10 verifier rejects.
	 */
	n = (__u64)ret;
	if (n > capture_bytes - carried)
		n = capture_bytes - carried;
	barrier_var(n);
	if (n > HTTPTRACE_MAX_CAPTURE_BYTES - HTTPTRACE_METHOD_BYTES)
		n = HTTPTRACE_MAX_CAPTURE_BYTES - HTTPTRACE_METHOD_BYTES;
	if (bpf_probe_read_user(e->data + carried, n, (const void *)args.buf)) {
		stat_inc(HTTPTRACE_STAT_READ_USER_FAILED);
		return 0;
	}
	total = carried + n;

	/*
	 * Too short to tell: keep it for the next read on this socket. The
	 * socket's entry is touched only here and when a carry is used up, so
	 * the common read costs no lookup of it.
	 */
	if (total < HTTPTRACE_METHOD_BYTES) {
		set_carry(&key, e->data, total);
		return 0;
	}
	if (carried)
		set_carry(&key, e->data, 0);
	if (!is_http_request(e->data, total)) {
		stat_inc(HTTPTRACE_STAT_NOT_HTTP);
		return 0;
	}

	e->timestamp_ns = bpf_ktime_get_ns();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->fd = args.fd;
	e->kind = HTTPTRACE_EVENT_REQUEST;
	e->read_bytes = (__u64)ret + carried > 0xffffffff ? 0xffffffff : (__u32)(ret + carried);
	e->captured_bytes = total;
	bpf_get_current_comm(e->comm, sizeof(e->comm));

	/* Send the header and the captured bytes only, not the whole buffer. */
	if (bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, e,
				  offsetof(struct httptrace_event, data) + total))
		stat_inc(HTTPTRACE_STAT_EVENTS_DROPPED);
	else
		stat_inc(HTTPTRACE_STAT_EVENTS_SENT);
	return 0;
}

/* A close starts: forget the socket, so a reused fd number is not traced. */
static __always_inline int on_close_entry(__s32 fd)
{
	struct socket_key key = {};

	key.pid = bpf_get_current_pid_tgid() >> 32;
	key.fd = fd;
	if (bpf_map_delete_elem(&active_sockets, &key) == 0)
		stat_inc(HTTPTRACE_STAT_SOCKETS_CLOSED);
	return 0;
}

#endif /* HTTPTRACE_SOCKETS_H */
