/* TLS plaintext: uprobes on a TLS library's read and write calls, placed on their connection by the socket syscall nested in the call or by the library's connection object. */
#ifndef HTTPTRACE_TLS_H
#define HTTPTRACE_TLS_H

#include "copy.h"

/*
 * How far the stack pointer moves between a function's entry and its
 * return probe: the return address is popped on x86, kept in a register
 * on arm64.
 */
#if defined(__TARGET_ARCH_x86)
#define HT_RET_SP_DELTA 8
#else
#define HT_RET_SP_DELTA 0
#endif

/*
 * Marks thread pid_tgid inside a probed TLS call (in) or out of it, in its
 * syscall slot, where its nested syscalls find it. A thread with no slot
 * yet gets one; one the map has no room for is counted, and its calls are
 * placed without their nested syscalls.
 */
static __always_inline void mark_in_tls(__u64 pid_tgid, bool in)
{
	struct call *slot = bpf_map_lookup_elem(&calls, &pid_tgid);
	struct call fresh = {.msg = CALL_IN_TLS};

	if (slot && in)
		slot->msg |= CALL_IN_TLS;
	else if (slot)
		slot->msg &= ~CALL_IN_TLS;
	else if (in && bpf_map_update_elem(&calls, &pid_tgid, &fresh, BPF_NOEXIST))
		stat_inc(HTTPTRACE_STAT_CALLS_NOT_SAVED);
}

/*
 * A TLS read or write starts on thread pid_tgid with stack pointer sp:
 * save the connection object and the buffer for its return. A call made
 * inside another probed call (deeper: a lower stack pointer, as a
 * library's read calling its own read_ex) keeps the outer one; a call at
 * the same depth or above replaces a call whose return was never seen.
 */
static __always_inline int on_tls_entry(__u64 tls, __u64 buf, __u64 size_ptr, __u8 dir, __u64 sp)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct tls_call fresh = {}, *tc;

	if (!tracked(pid_tgid >> 32))
		return 0;
	tc = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	if (tc && tc->tls && sp < tc->sp)
		return 0;
	fresh.sp = sp;
	fresh.tls = tls;
	fresh.buf = buf;
	fresh.size_ptr = size_ptr;
	fresh.dir = dir;
	fresh.start_ns = bpf_ktime_get_ns();
	if (tc) {
		fresh.last_conn = tc->last_conn;
		fresh.last_gen = tc->last_gen;
		fresh.last_fd = tc->last_fd;
		*tc = fresh;
	}
	else if (bpf_map_update_elem(&tls_calls, &pid_tgid, &fresh, BPF_ANY)) {
		stat_inc(HTTPTRACE_STAT_TLS_UNPLACED); /* its return will find nothing */
		return 0;
	}
	mark_in_tls(pid_tgid, true);
	return 0;
}

/*
 * The connection a finished TLS call of process tgid moved plaintext on:
 * the one its nested syscall found, else the one the object was last seen
 * on, else, for a read of a library fed from memory, the TLS connection
 * the thread last read from. The first and last are remembered for the
 * connection object. 0 when none is known.
 */
static __always_inline __u64 tls_place(const struct tls_call *tc, __u32 tgid, __u64 *gen, __s32 *fd)
{
	struct tls_key key = {.tgid = tgid, .tls = tc->tls};
	struct tls_conn *known, fresh = {};

	if (tc->conn && tc->go) {
		*gen = tc->gen;
		*fd = tc->fd;
		return tc->conn;
	}
	if (tc->conn) {
		fresh.conn = tc->conn;
		fresh.gen = tc->gen;
		fresh.fd = tc->fd;
	} else {
		known = bpf_map_lookup_elem(&tls_conns, &key);
		if (known) {
			struct conn *live = bpf_map_lookup_elem(&conns, &known->conn);

			if (live && live->gen == known->gen) {
				*gen = known->gen;
				*fd = known->fd;
				return known->conn;
			}
			/* Its connection is gone: the object was freed and its address reused. */
			bpf_map_delete_elem(&tls_conns, &key);
		}
		if (tc->dir != HTTPTRACE_DIR_RECV || !tc->last_conn)
			return 0;
		fresh.conn = tc->last_conn;
		fresh.gen = tc->last_gen;
		fresh.fd = tc->last_fd;
	}
	bpf_map_update_elem(&tls_conns, &key, &fresh, BPF_ANY);
	*gen = fresh.gen;
	*fd = fresh.fd;
	return fresh.conn;
}

/*
 * A TLS call of thread pid_tgid moved bytes of plaintext: send them as a
 * record of source HTTPTRACE_SRC_TLS, at the connection's own TLS
 * positions, whatever its syscalls moved. True when they went out as
 * records (not unplaced, unselected or muted).
 */
static __always_inline bool tls_send(struct tls_call *tc, __u64 bytes, __u64 pid_tgid)
{
	struct tls_call cp = *tc;
	struct scratch *s;
	struct conn *conn;
	struct call c = {};
	__u64 id, gen = 0, pos, skip_to;
	__s32 fd = -1;
	__u32 zero = 0;

	tc = &cp;
	id = tls_place(tc, pid_tgid >> 32, &gen, &fd);
	conn = id ? bpf_map_lookup_elem(&conns, &id) : NULL;
	if (!conn || conn->gen != gen) {
		stat_inc(HTTPTRACE_STAT_TLS_UNPLACED);
		return false;
	}
	stat_inc(HTTPTRACE_STAT_TLS_CALLS);
	tls_begin(id, conn);
	if (conn->unselected || conn->muted) {
		stat_inc(conn->muted ? HTTPTRACE_STAT_NOT_HTTP : HTTPTRACE_STAT_UNSELECTED);
		return false;
	}
	tc->dir &= 1;
#ifdef HTTPTRACE_LEGACY
	/* Kernels before 5.12 have no fetching atomics: two threads' calls may race. */
	pos = conn->tls_pos[tc->dir];
	conn->tls_pos[tc->dir] = pos + bytes;
#else
	/* Atomic: two threads' calls on one connection each get their bytes' own place. */
	pos = __sync_fetch_and_add(&conn->tls_pos[tc->dir], bytes);
#endif
	skip_to = conn_skip_or_mute(id, conn, gen, tc->dir);
	if (skip_to == HTTPTRACE_SKIP_ALL)
		return false;
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return false;
	c.fd = fd;
	c.start_ns = tc->start_ns;
	c.dir = tc->dir;
	c.syscall = tc->dir == HTTPTRACE_DIR_RECV ? HTTPTRACE_SYS_TLS_READ : HTTPTRACE_SYS_TLS_WRITE;
	fill_header(&s->rec, &c, pid_tgid, id, conn);
	s->rec.source = HTTPTRACE_SRC_TLS;
	s->rec.flags |= HTTPTRACE_CONN_TLS;
	s->rec.unseen_bytes = 0;
	send_span(&s->rec, pos, bytes, tc->buf, skip_to);
	return true;
}

/*
 * An OpenSSL read or write returns ret: read_ex/write_ex return 1 and
 * write the count to *size_ptr; read/write return it.
 */
static __always_inline int on_tls_return(long ret, __u64 sp)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct tls_call *slot = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	struct tls_call tc;
	__u64 bytes = 0;

	/* Another call's return (one nested in the saved call) leaves it. */
	if (!slot || !slot->tls || sp != slot->sp + HT_RET_SP_DELTA)
		return 0;
	tc = *slot;
	slot->tls = 0;
	mark_in_tls(pid_tgid, false);
	/* A guess from the thread's last read serves one call only. */
	slot->last_conn = 0;
	if (tc.size_ptr) {
		if (ret != 1 || bpf_probe_read_user(&bytes, sizeof(bytes), (const void *)tc.size_ptr))
			return 0;
	} else if (ret > 0) {
		bytes = ret;
	}
	if (bytes)
		tls_send(&tc, bytes, pid_tgid);
	return 0;
}

#define HT_PROT_EXEC 0x4

/*
 * A traced process maps a file executable: when the file's name starts with
 * "libssl.so" (OpenSSL's, not NSS's libssl3.so), tell user space, which probes the library before the process
 * can call it (a dlopen after start, or the libraries of an exec). Only the
 * name is read here; user space finds the file in the process's mappings.
 */
static __always_inline int on_mmap_entry(__u64 prot, __s32 fd)
{
	static const char want[] = "libssl.so";
	struct task_struct *task;
	struct file *file;
	const unsigned char *name;
	char got[sizeof(want) - 1];
	__u32 pid;

	if (!trace_tls || !(prot & HT_PROT_EXEC) || fd < 0)
		return 0;
	pid = tracked_pid();
	if (!pid)
		return 0;
	file = fd_file(fd);
	if (!file)
		return 0;
	name = BPF_CORE_READ(file, f_path.dentry, d_name.name);
	if (bpf_probe_read_kernel(got, sizeof(got), name))
		return 0;
	for (int i = 0; i < sizeof(got); i++)
		if (got[i] != want[i])
			return 0;
	stat_inc(HTTPTRACE_STAT_TLS_MAPPED);
	task = (struct task_struct *)bpf_get_current_task();
	emit_proc(HTTPTRACE_PROC_TLS_MAP, pid, BPF_CORE_READ(task, real_parent, tgid), task);
	return 0;
}

#endif /* HTTPTRACE_TLS_H */
