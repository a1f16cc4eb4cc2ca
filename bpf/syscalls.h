/* The socket syscalls of traced processes: entry saves the call, return sends its bytes; accept, connect and close. */
#ifndef HTTPTRACE_SYSCALLS_H
#define HTTPTRACE_SYSCALLS_H

#include "copy.h"
#include "listen.h"

#define HT_EINPROGRESS 115
#define HT_MSG_PEEK 0x2
#define HT_MSG_TRUNC 0x20
#define HT_MSG_ERRQUEUE 0x2000

/*
 * Saves a call in flight of thread pid_tgid for its return, counting a
 * previous one that never returned, and a call the map had no room for.
 * The thread's entry is overwritten in place once it has one.
 */
static __always_inline void save_call(struct call *c, __u64 pid_tgid)
{
	struct call *slot = bpf_map_lookup_elem(&calls, &pid_tgid);

	c->start_ns = bpf_ktime_get_ns();
	if (!slot) {
		if (bpf_map_update_elem(&calls, &pid_tgid, c, BPF_ANY))
			stat_inc(HTTPTRACE_STAT_CALLS_NOT_SAVED);
		return;
	}
	if (slot->shape)
		stat_inc(HTTPTRACE_STAT_RETURNS_MISSED);
	c->msg |= slot->msg & CALL_IN_TLS;
	*slot = *c;
}

/*
 * A data syscall of a traced process starts: save where its data is, for
 * its return. ptr is the buffer, the iovec array (iovlen entries) or the
 * struct user_msghdr, by shape, and the file fd names now (a few loads
 * through the fd table, paid by every call), so that a return on another
 * file (fd closed and reused meanwhile) is dropped. Whether the file is
 * a stream socket httptrace traces is left to a return that moved bytes:
 * most calls that move none (EAGAIN) never pay that.
 */
static __always_inline int on_data_entry(__s32 fd, __u64 ptr, __u64 iovlen, __u64 flags, __u8 sys, __u8 dir,
					 __u8 shape)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct call c = {};

	if (!tracked(pid_tgid >> 32))
		return 0;
	c.fd = fd;
	c.file = (__u64)fd_file(fd);
	c.ptr = ptr;
	c.iovlen = iovlen;
	c.syscall = sys;
	c.dir = dir;
	c.shape = shape;
	if (flags & (HT_MSG_PEEK | HT_MSG_ERRQUEUE))
		c.msg |= CALL_PEEK;
	if (flags & HT_MSG_TRUNC)
		c.msg |= CALL_TRUNC;
	save_call(&c, pid_tgid);
	return 0;
}

/*
 * A saved data call of thread pid_tgid moved bytes: when the file its fd
 * named at the entry is a traced stream socket, find where its data is (a
 * msghdr's iovecs) and send it. If the fd names another file now, it was closed
 * (and maybe reused) during the call: the file of the entry is the one the
 * bytes moved on, but its socket may be gone, so the call is counted and
 * dropped.
 */
static __always_inline void on_data_return(struct call *c, __u64 bytes, __u64 pid_tgid)
{
	struct user_msghdr msg;
	struct sock *sk = NULL;
	struct file *file = fd_file(c->fd);
	__u64 id;

	if ((__u64)file != c->file) {
		stat_inc(HTTPTRACE_STAT_FD_REPLACED);
		return;
	}
	id = conn_of_fd_file(pid_tgid >> 32, c->fd, file, &sk);
	if (!id)
		return;
	stat_inc(HTTPTRACE_STAT_CALLS);
	if (c->msg & CALL_PEEK) {
		/*
		 * Bytes looked at and left on the socket (the read that takes
		 * them is sent), or the socket's error queue: not the stream.
		 */
		stat_inc(HTTPTRACE_STAT_PEEKS);
		return;
	}
	if (c->syscall == HTTPTRACE_SYS_RECVMSG || c->syscall == HTTPTRACE_SYS_SENDMSG) {
		/* A msghdr: its iovecs are the data. */
		if (bpf_probe_read_user(&msg, sizeof(msg), (const void *)c->ptr)) {
			stat_inc(HTTPTRACE_STAT_READ_USER_FAILED);
			c->iovlen = 0;
		} else {
			c->ptr = (__u64)msg.msg_iov;
			c->iovlen = msg.msg_iovlen;
		}
		c->shape = SHAPE_IOVEC;
	}
	send_transfer(c, pid_tgid, id, sk, bytes);
}

/* A connect starts on a socket of a traced process: its return says whether it made a connection. */
static __always_inline int on_connect_entry(__s32 fd)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct call c = {};

	if (!tracked(pid_tgid >> 32))
		return 0;
	c.fd = fd;
	c.shape = SHAPE_CONNECT;
	save_call(&c, pid_tgid);
	return 0;
}

/* A saved syscall returns ret: send the bytes it moved, or record the connection it made. */
static __always_inline int on_call_return(long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct call *saved, c;

	saved = bpf_map_lookup_elem(&calls, &pid_tgid);
	if (!saved || !saved->shape)
		return 0;
	c = *saved;
	saved->shape = 0;
	/*
	 * __sys_recvfrom, __sys_sendto and __sys_connect return int: in kprobe
	 * mode the return register's upper half is not its sign, so an error
	 * (EAGAIN) would read as four gigabytes moved. Their counts fit an int
	 * in every mode.
	 */
	if (c.syscall == HTTPTRACE_SYS_RECVFROM || c.syscall == HTTPTRACE_SYS_SENDTO || c.shape == SHAPE_CONNECT)
		ret = (int)ret;
	if (c.shape == SHAPE_CONNECT) {
		/* A non-blocking connect has its addresses once it returns EINPROGRESS. */
		if (ret == 0 || ret == -HT_EINPROGRESS)
			conn_hint(pid_tgid >> 32, c.fd, HTTPTRACE_CONN_CONNECTED);
		return 0;
	}
	if (ret > 0)
		on_data_return(&c, (__u64)ret, pid_tgid);
	return 0;
}

/*
 * An accept of a traced process returned fd: the connection is the server
 * side. With port selection, a process not traced yet that accepts on a
 * selected server port is traced from now on (a socket it was handed, as
 * socket activation does, is never listened on by the process itself).
 */
static __always_inline int on_accept_return(long fd)
{
	__u32 tgid;

	if (fd < 0)
		return 0;
	tgid = tracked_pid();
	if (!tgid && port_select) {
		__u32 pid = bpf_get_current_pid_tgid() >> 32;

		if (on_server_port(fd_file((__s32)fd)) && track_listener(pid))
			tgid = pid;
	}
	if (tgid)
		conn_hint(tgid, (__s32)fd, HTTPTRACE_CONN_ACCEPTED);
	return 0;
}

/* A file as old kernels had it: a plain reference count (before file_ref_t). */
struct file___old {
	atomic_long_t f_count;
} __attribute__((preserve_access_index));

/* References to a file: file_ref_t (Linux 6.13) stores the count minus one. */
static __always_inline long file_refs(struct file *f)
{
	if (bpf_core_field_exists(f->f_ref))
		return BPF_CORE_READ(f, f_ref.refcnt.counter) + 1;
	return BPF_CORE_READ((struct file___old *)f, f_count.counter);
}

/*
 * A close starts: forget what fd was; when the close drops the last
 * reference to a known connection's socket, send a close record and forget
 * the connection.
 */
static __always_inline int on_close_entry(__s32 fd)
{
	struct sock *sk = NULL;
	struct file *file;
	__u32 tgid = tracked_pid();
	struct fd_key key = {.tgid = tgid, .fd = fd};
	__u64 id, gen, end[2];
	struct conn *c;
	__u8 state;

	if (!tgid)
		return 0;
	bpf_map_delete_elem(&fd_conns, &key);
	file = fd_file(fd);
	id = conn_of_file(file, &sk);
	if (!id || file_refs(file) != 1)
		return 0;
	c = bpf_map_lookup_elem(&conns, &id);
	if (!c || c->sk != (__u64)sk)
		return 0;
	if (c->unselected) { /* user space never heard of it */
		conn_forget(id);
		return 0;
	}
	state = sock_state(sk);
	end[HTTPTRACE_DIR_RECV] = conn_end(c, sk, HTTPTRACE_DIR_RECV, state);
	end[HTTPTRACE_DIR_SEND] = conn_end(c, sk, HTTPTRACE_DIR_SEND, state);
	gen = conn_forget(id);
	if (!gen)
		return 0;
	stat_inc(HTTPTRACE_STAT_CONNS_CLOSED);
	emit_close(id, gen, fd, end);
	return 0;
}

/* SOCK_DEAD in sk_flags: the socket has no file any more (sock_orphan). */
#define HT_SOCK_DEAD 0

/*
 * A known connection's socket ended with no close(2) seen, oldstate the
 * TCP state it left (HT_TCP_CLOSE: not known): it was released by
 * close_range, dup2 over its fd, close-on-exec, exit, or a close while
 * another thread was in a syscall on it. A close record says where each
 * direction ended, as far as the counts say.
 */
static __always_inline int sock_ended(struct sock *sk, int oldstate)
{
	__u64 key = (__u64)sk, *idp, id, gen, end[2];
	struct conn *c;

	idp = bpf_map_lookup_elem(&conn_socks, &key);
	if (!idp)
		return 0;
	id = *idp;
	c = bpf_map_lookup_elem(&conns, &id);
	if (!c || c->sk != key)
		return 0;
	if (c->unselected) { /* user space never heard of it */
		conn_forget(id);
		return 0;
	}
	end[HTTPTRACE_DIR_RECV] = conn_end(c, sk, HTTPTRACE_DIR_RECV, oldstate);
	end[HTTPTRACE_DIR_SEND] = conn_end(c, sk, HTTPTRACE_DIR_SEND, oldstate);
	gen = conn_forget(id);
	if (!gen)
		return 0;
	stat_inc(HTTPTRACE_STAT_CONNS_ENDED);
	emit_end(id, gen, end);
	return 0;
}

/*
 * A TCP socket changes state. Reaching CLOSE once it has no file (the
 * application released it, so no more of its calls can come) is its end,
 * and the state it leaves says which FINs count. A socket that reaches
 * CLOSE while the application still holds it (a reset, a FIN after its own
 * shutdown) is not ended here: its release is, by close(2) or, at the
 * latest, by the socket's destruction (on_sock_destroy).
 */
static __always_inline int on_sock_state(struct sock *sk, int oldstate, int newstate)
{
	if (newstate != HT_TCP_CLOSE || !(BPF_CORE_READ(sk, __sk_common.skc_flags) & (1UL << HT_SOCK_DEAD)))
		return 0;
	return sock_ended(sk, oldstate);
}

/*
 * A TCP socket is destroyed: the last moment of every socket, whichever
 * way its file was released. A connection still known then ends, with
 * where it ended not known (the socket is in CLOSE).
 */
static __always_inline int on_sock_destroy(struct sock *sk)
{
	return sock_ended(sk, HT_TCP_CLOSE);
}

#endif /* HTTPTRACE_SYSCALLS_H */
