/* Go's crypto/tls: uprobes at (*Conn).Read and (*Conn).Write and at each of their RET instructions, the socket found through the Conn's fields. */
#ifndef HTTPTRACE_GOTLS_H
#define HTTPTRACE_GOTLS_H

#include "tls.h"

/*
 * Go's register ABI (Go 1.17 and later): the receiver and the slice's
 * pointer and length in the first three integer registers, the result in
 * the first, the current goroutine (g) in a register of its own.
 */
#if defined(__TARGET_ARCH_x86)
#define GO_ARG1(ctx) ((ctx)->ax)
#define GO_ARG2(ctx) ((ctx)->bx)
#define GO_ARG3(ctx) ((ctx)->cx)
#define GO_G(ctx) ((ctx)->r14)
#elif defined(__TARGET_ARCH_arm64)
#define GO_ARG1(ctx) ((ctx)->regs[0])
#define GO_ARG2(ctx) ((ctx)->regs[1])
#define GO_ARG3(ctx) ((ctx)->regs[2])
#define GO_G(ctx) ((ctx)->regs[28])
#endif

/*
 * Where a crypto/tls.Conn's socket is (userbin.GoTLSOffsets): the data
 * word of its net.Conn, the *netFD in net.conn, Sysfd in the netFD. Set
 * by user space before load.
 */
const volatile __u64 go_conn_data_off = 8;
const volatile __u64 go_conn_fd_off = 0;
const volatile __u64 go_netfd_sysfd_off = 16;

/* A goroutine of a process: Go calls are keyed by it, as a goroutine may move between threads. */
struct go_key {
	__u32 tgid;
	__u32 pad;
	__u64 g;
};

/*
 * Go TLS calls in flight, per goroutine: deleted at the return; LRU, so
 * that a goroutine that never returned does not hold its entry.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct go_key);
	__type(value, struct tls_call);
} go_tls_calls SEC(".maps");

/* The fd of the socket under a crypto/tls.Conn (a *net.TCPConn), or -1. */
static __always_inline __s32 go_conn_fd(__u64 c)
{
	__u64 data = 0, netfd = 0;
	__s64 fd = -1;

	if (bpf_probe_read_user(&data, sizeof(data), (const void *)(c + go_conn_data_off)) || !data)
		return -1;
	if (bpf_probe_read_user(&netfd, sizeof(netfd), (const void *)(data + go_conn_fd_off)) || !netfd)
		return -1;
	if (bpf_probe_read_user(&fd, sizeof(fd), (const void *)(netfd + go_netfd_sysfd_off)))
		return -1;
	return fd < 0 || fd > 0x7fffffff ? -1 : (__s32)fd;
}

/*
 * A call of goroutine key found no connection (counted): its return must
 * find that, not a call saved earlier whose return went unseen, and not
 * nothing (a return with nothing saved is counted as a call in flight at
 * the attach). tls 0 says it.
 */
static __always_inline void go_tls_unplaced(const struct go_key *key, __u8 dir)
{
	struct tls_call none = {.dir = dir};

	bpf_map_update_elem(&go_tls_calls, key, &none, BPF_ANY);
}

/*
 * A goroutine enters (*Conn).Read or Write (past the stack check): find
 * the connection under it now (its syscalls, nested or not, are then
 * known as TLS records and dropped); send a Write's bytes; save the call
 * for its return.
 */
static __always_inline int on_go_tls_entry(struct pt_regs *ctx, __u8 dir)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct go_key key = {.tgid = pid_tgid >> 32, .g = GO_G(ctx)};
	struct tls_call tc = {};
	struct sock *sk = NULL;
	struct conn *conn;
	__u64 id;
	__s32 fd;

	if (!trace_tls || !tracked(key.tgid))
		return 0;
	fd = go_conn_fd(GO_ARG1(ctx));
	id = fd < 0 ? 0 : conn_of_fd(key.tgid, fd, &sk);
	if (!id) {
		/*
		 * Not a TCP (or unix) stream socket: a net.Conn of another kind
		 * (a wrapper type; or a tls.Conn over another one, whose field
		 * there is no socket).
		 */
		stat_inc(HTTPTRACE_STAT_TLS_UNPLACED);
		go_tls_unplaced(&key, dir);
		return 0;
	}
	conn = bpf_map_lookup_elem(&conns, &id);
	if (!conn || conn->sk != (__u64)sk)
		conn = conn_get(id, sk, HTTPTRACE_CONN_ADOPTED, false);
	if (!conn) {
		go_tls_unplaced(&key, dir);
		return 0;
	}
	tls_begin(id, conn);
	tc.tls = GO_ARG1(ctx);
	tc.buf = GO_ARG2(ctx);
	tc.start_ns = bpf_ktime_get_ns();
	tc.conn = id;
	tc.gen = conn->gen;
	tc.fd = fd;
	tc.dir = dir;
	tc.go = 1;
	if (dir == HTTPTRACE_DIR_SEND) {
		/*
		 * A Write's bytes are sent here, all its slice holds:
		 * (*Conn).Write writes them all or fails the connection. By its
		 * return the connection may be gone, and its entry with it (the
		 * peer read them and hung up, and another goroutine closed the
		 * socket before this one ran again). This probe sits past the
		 * stack check (userbin.GoBodyOffset), so a call that grows its
		 * stack, running its first instructions again, passes it once.
		 */
		tc.len = GO_ARG3(ctx);
		if ((__s64)tc.len > 0)
			tc.logged = tls_send(&tc, tc.len, pid_tgid);
	}
	if (bpf_map_update_elem(&go_tls_calls, &key, &tc, BPF_ANY))
		stat_inc(HTTPTRACE_STAT_TLS_UNPLACED); /* a Read's return counts it again, as unsaved */
	return 0;
}

/*
 * A goroutine's (*Conn).Read or Write (dir) returns (n int, err error):
 * send a Read's n bytes. A Write's were sent at its entry; one that
 * returns fewer than it was given failed, and its bytes past n, logged,
 * never left: counted. A call saved by the other function is one whose
 * return went unseen (a panic): dropped, and a Read that finds one counted
 * as unsaved.
 */
static __always_inline int on_go_tls_return(struct pt_regs *ctx, __u8 dir)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct go_key key = {.tgid = pid_tgid >> 32, .g = GO_G(ctx)};
	struct tls_call *slot = bpf_map_lookup_elem(&go_tls_calls, &key);
	struct tls_call tc;
	__s64 n = (__s64)GO_ARG1(ctx);

	if (!slot) {
		/*
		 * A Read in flight when the probes attached, or one LRU evicted:
		 * its bytes go unsent. (A Write's went at its entry, if seen.)
		 */
		if (dir == HTTPTRACE_DIR_RECV && tracked(key.tgid))
			stat_inc(HTTPTRACE_STAT_TLS_RETURNS_UNSAVED);
		return 0;
	}
	tc = *slot;
	bpf_map_delete_elem(&go_tls_calls, &key);
	if (tc.dir != dir) {
		/*
		 * Another function's call, whose return went unseen (a panic):
		 * this Read's own call was not saved, and its bytes go unsent.
		 */
		if (dir == HTTPTRACE_DIR_RECV)
			stat_inc(HTTPTRACE_STAT_TLS_RETURNS_UNSAVED);
		return 0;
	}
	if (!tc.tls)
		return 0; /* found unplaced at its entry (counted there) */
	if (dir == HTTPTRACE_DIR_SEND) {
		if (tc.logged && n < (__s64)tc.len)
			stat_inc(HTTPTRACE_STAT_TLS_WRITE_FAILED);
	} else if (n > 0) {
		tls_send(&tc, n, pid_tgid);
	}
	return 0;
}

#endif /* HTTPTRACE_GOTLS_H */
