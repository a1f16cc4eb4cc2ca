/* Connection identity: from a syscall's fd to its stream socket (TCP or unix), keyed by the socket's inode number. */
#ifndef HTTPTRACE_CONN_H
#define HTTPTRACE_CONN_H

#include "maps.h"

/* Constants that are macros in the kernel, so not in vmlinux.h. */
#define HT_AF_UNIX 1
#define HT_AF_INET 2
#define HT_AF_INET6 10
#define HT_SOCK_STREAM 1
#define HT_S_IFMT 00170000
#define HT_S_IFSOCK 0140000

#include "ports.h"

/*
 * Whether the kernel has bpf_get_current_task_btf (5.11): then the task is
 * read with plain loads instead of a helper call per pointer. A CO-RE
 * constant: the verifier follows only the branch the kernel can take.
 */
#define HT_TASK_BTF bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf)

/* The file behind fd in the current process's fd table, or NULL. */
static __always_inline struct file *fd_file(__s32 fd)
{
	struct file **fds;
	struct file *file = NULL;

	if (fd < 0)
		return NULL;
	if (HT_TASK_BTF) {
		struct fdtable *fdt = bpf_get_current_task_btf()->files->fdt;

		if (!fdt || (__u32)fd >= fdt->max_fds)
			return NULL;
		fds = fdt->fd;
	} else {
		struct task_struct *task = (struct task_struct *)bpf_get_current_task();
		struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);

		if (!fdt || (__u32)fd >= BPF_CORE_READ(fdt, max_fds))
			return NULL;
		fds = BPF_CORE_READ(fdt, fd);
	}
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]))
		return NULL;
	return file;
}

/* Whether unix-domain stream sockets are traced, set by user space before load. */
const volatile bool trace_unix = true;

/* The struct sock of a file that is a stream socket (SOCK_STREAM), else NULL. */
static __always_inline struct sock *stream_sock_of_file(struct file *file)
{
	struct socket *sock;

	if (!file || (BPF_CORE_READ(file, f_inode, i_mode) & HT_S_IFMT) != HT_S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	if (!sock || BPF_CORE_READ(sock, type) != HT_SOCK_STREAM)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

/*
 * The connection id of a file when it is a stream socket httptrace traces
 * (TCP over AF_INET or AF_INET6; AF_UNIX SOCK_STREAM when trace_unix): its
 * inode number, what /proc/PID/fd shows as socket:[N]. 0 for anything
 * else. *skp is set to the socket's struct sock.
 */
static __always_inline __u64 conn_of_file(struct file *file, struct sock **skp)
{
	struct sock *sk = stream_sock_of_file(file);
	__u16 family;

	if (!sk)
		return 0;
	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == HT_AF_UNIX) {
		if (!trace_unix)
			return 0;
	} else if (family != HT_AF_INET && family != HT_AF_INET6) {
		return 0;
	} else if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP) {
		return 0;
	}
	*skp = sk;
	return BPF_CORE_READ(file, f_inode, i_ino);
}

/* The inode number of a file. */
static __always_inline __u64 file_ino(struct file *file)
{
	return BPF_CORE_READ(file, f_inode, i_ino);
}

/*
 * The connection id of file, fd in process tgid, or 0 (see
 * conn_of_file). What the file is comes from fd_conns while the entry
 * there is for the same file, and is checked and stored otherwise.
 */
static __always_inline __u64 conn_of_fd_file(__u32 tgid, __s32 fd, struct file *file, struct sock **skp)
{
	struct fd_key key = {.tgid = tgid, .fd = fd};
	struct fd_conn *known, fresh = {};
	struct sock *sk = NULL;

	if (!file)
		return 0;
	fresh.ino = file_ino(file);
	known = bpf_map_lookup_elem(&fd_conns, &key);
	if (known && known->file == (__u64)file && known->ino == fresh.ino) {
		*skp = (struct sock *)known->sk;
		return known->conn;
	}
	fresh.file = (__u64)file;
	fresh.conn = conn_of_file(file, &sk);
	fresh.sk = (__u64)sk;
	bpf_map_update_elem(&fd_conns, &key, &fresh, BPF_ANY);
	*skp = sk;
	return fresh.conn;
}

/* The connection id of fd in process tgid, or 0: its file from the fd table now. */
static __always_inline __u64 conn_of_fd(__u32 tgid, __s32 fd, struct sock **skp)
{
	return conn_of_fd_file(tgid, fd, fd_file(fd), skp);
}

/* A socket's inode number (0 for a socket with no file: orphaned). */
static __always_inline __u64 sock_ino(struct sock *sk)
{
	struct socket *sock = BPF_CORE_READ(sk, sk_socket);

	if (!sock)
		return 0;
	return BPF_CORE_READ(sock, file, f_inode, i_ino);
}

/*
 * A 32-bit FNV-1a hash of the path a unix socket is bound to, as
 * /proc/net/unix prints it (an abstract name with '@' for each NUL; an
 * accepted socket shares its listener's address), 0 for none: user space
 * finds the path by it once the socket itself is gone from that table.
 */
static __always_inline __u32 unix_path_hash(struct sock *sk)
{
	struct unix_address *addr = BPF_CORE_READ((struct unix_sock *)sk, addr);
	char path[108];
	__u32 h = 2166136261U;
	int n;

	if (!addr)
		return 0;
	n = BPF_CORE_READ(addr, len) - (int)sizeof(__kernel_sa_family_t);
	if (n <= 0 || bpf_probe_read_kernel(path, sizeof(path), &addr->name[0].sun_path))
		return 0;
	if (path[0])
		n--; /* a filesystem path's NUL */
	for (int i = 0; i < (int)sizeof(path); i++) {
		if (i >= n)
			break;
		h ^= (__u8)(path[i] ? path[i] : '@');
		h *= 16777619U;
	}
	return h;
}

/*
 * Reads both ends of a socket into a new conns value. A unix socket has
 * no address of its own to carry: local_addr holds its inode number
 * (8 bytes) and its path's hash (unix_path_hash, 4), peer_addr its peer's
 * inode number, the peer process (SO_PEERCRED) and the peer's path hash,
 * from which user space names them.
 */
static __always_inline void conn_addresses(struct conn *c, struct sock *sk)
{
	c->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (c->family == HT_AF_UNIX) {
		struct sock *peer = BPF_CORE_READ((struct unix_sock *)sk, peer);
		__u64 ino = sock_ino(sk), peer_ino = peer ? sock_ino(peer) : 0;
		__u32 peer_pid = BPF_CORE_READ(sk, sk_peer_pid, numbers[0].nr);
		__u32 hash = unix_path_hash(sk), peer_hash = peer ? unix_path_hash(peer) : 0;

		__builtin_memcpy(c->local_addr, &ino, 8);
		__builtin_memcpy(c->local_addr + 8, &hash, 4);
		__builtin_memcpy(c->peer_addr, &peer_ino, 8);
		__builtin_memcpy(c->peer_addr + 8, &peer_pid, 4);
		__builtin_memcpy(c->peer_addr + 12, &peer_hash, 4);
		c->foreign = 1; /* no byte counts of its own: positions are its calls' */
		return;
	}
	c->local_port = BPF_CORE_READ(sk, __sk_common.skc_num);
	c->peer_port = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (c->family == HT_AF_INET) {
		bpf_core_read(c->local_addr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(c->peer_addr, 4, &sk->__sk_common.skc_daddr);
	} else {
		bpf_core_read(c->local_addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(c->peer_addr, 16, &sk->__sk_common.skc_v6_daddr);
	}
}

/* The stat counting connections created with a flag. */
static __always_inline __u32 conn_stat(__u8 flag)
{
	if (flag == HTTPTRACE_CONN_ACCEPTED)
		return HTTPTRACE_STAT_CONNS_ACCEPTED;
	if (flag == HTTPTRACE_CONN_CONNECTED)
		return HTTPTRACE_STAT_CONNS_CONNECTED;
	if (flag == HTTPTRACE_CONN_ADOPTED)
		return HTTPTRACE_STAT_CONNS_ADOPTED;
	return HTTPTRACE_STAT_CONNS_FROM_START;
}

/* The tcp_sock behind a TCP socket's struct sock. */
static __always_inline struct tcp_sock *tcp_of(struct sock *sk)
{
	return (struct tcp_sock *)sk;
}

/* TCP states (enum in the kernel's tcp_states.h, not in every vmlinux.h). */
#define HT_TCP_FIN_WAIT1 4
#define HT_TCP_FIN_WAIT2 5
#define HT_TCP_CLOSE 7
#define HT_TCP_CLOSE_WAIT 8
#define HT_TCP_LAST_ACK 9
#define HT_TCP_CLOSING 11

/* A TCP socket's state (HT_TCP_*). */
static __always_inline __u8 sock_state(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_state);
}

/*
 * Where the application is in direction dir of a TCP socket, in state
 * state, as a sequence number: the next byte it will consume (copied_seq)
 * or write (write_seq). Only the application's own calls move them (a
 * read, splice, io_uring, sendfile: every byte it moves, whatever moved
 * it; MSG_PEEK does not), never the network, so no segment that arrives
 * while they are read can make them disagree.
 *
 * A FIN takes a sequence number but is no byte: the peer's counts in
 * copied_seq once the application has read it (tcp_recvmsg consumes a FIN
 * that follows the last bytes it copies in the same call), our own in
 * write_seq once queued; each is taken off. The peer's FIN has come in
 * CLOSE_WAIT, LAST_ACK and CLOSING, when no more data can come, so
 * rcv_nxt is settled there. In CLOSE a reset cannot be told from a FIN:
 * callers do not ask.
 */
static __always_inline __u32 app_seq(struct sock *sk, __u8 dir, __u8 state)
{
	struct tcp_sock *tp = tcp_of(sk);
	__u32 seq;

	if (dir == HTTPTRACE_DIR_RECV) {
		seq = BPF_CORE_READ(tp, copied_seq);
		if ((state == HT_TCP_CLOSE_WAIT || state == HT_TCP_LAST_ACK || state == HT_TCP_CLOSING) &&
		    seq == BPF_CORE_READ(tp, rcv_nxt))
			seq--;
		return seq;
	}
	seq = BPF_CORE_READ(tp, write_seq);
	if (state == HT_TCP_FIN_WAIT1 || state == HT_TCP_FIN_WAIT2 || state == HT_TCP_CLOSING ||
	    state == HT_TCP_LAST_ACK)
		seq--;
	return seq;
}

/*
 * True when a read that just returned bytes got the first bytes the socket
 * ever delivered, and the process has written nothing on it: the connection
 * is seen from its start although its accept was not (a kretprobe misses an
 * accept that was already blocked when it was attached). The bytes read in
 * all are what the socket received less what waits unread (a segment that
 * lands while these are read makes the answer no, which only costs the
 * connection its from-start flag).
 */
static __always_inline bool read_from_start(struct sock *sk, __u64 bytes)
{
	struct tcp_sock *tp = tcp_of(sk);
	__u8 state = sock_state(sk);
	__u32 nxt, copied;
	__u64 consumed;

	if (state == HT_TCP_CLOSE || BPF_CORE_READ(sk, __sk_common.skc_family) == HT_AF_UNIX)
		return false;
	nxt = BPF_CORE_READ(tp, rcv_nxt);
	copied = app_seq(sk, HTTPTRACE_DIR_RECV, state);
	consumed = BPF_CORE_READ(tp, bytes_received) - (__u32)(nxt - copied);
	if ((state == HT_TCP_CLOSE_WAIT || state == HT_TCP_LAST_ACK || state == HT_TCP_CLOSING) && consumed)
		consumed--; /* the peer's FIN counts in bytes_received */
	return consumed == bytes && BPF_CORE_READ(tp, data_segs_out) == 0 &&
	       BPF_CORE_READ(tp, write_seq) == BPF_CORE_READ(tp, snd_nxt);
}

/*
 * Forgets a connection and what user space asked to skip on it; returns its
 * generation, 0 if it was not known.
 */
static __always_inline __u64 conn_forget(__u64 id)
{
	struct skip_key key = {.conn = id};
	struct conn *c = bpf_map_lookup_elem(&conns, &id);
	__u64 gen, sk;

	if (!c)
		return 0;
	gen = c->gen;
	sk = c->sk;
	if (bpf_map_delete_elem(&conns, &id))
		return 0;
	bpf_map_delete_elem(&conn_socks, &sk);
	bpf_map_delete_elem(&conn_skips, &key);
	key.dir = HTTPTRACE_DIR_SEND;
	bpf_map_delete_elem(&conn_skips, &key);
	return gen;
}

/*
 * The conns entry of a connection, made with flag (its addresses read once,
 * a new generation) when there is none yet, when the one there was made
 * for another socket with the same inode number, or, with renew, in any
 * case (a connect: the socket may have been connected before, and a
 * connect to AF_UNSPEC ended that connection).
 *
 * An accepted connection's directions are anchored now, while the
 * application has moved nothing: the bytes it moves unseen from the first
 * on are counted. Every other direction is anchored at its first bytes.
 */
static __always_inline struct conn *conn_get(__u64 id, struct sock *sk, __u8 flag, bool renew)
{
	struct conn *c = bpf_map_lookup_elem(&conns, &id);
	struct conn fresh = {};

	if (c && c->sk == (__u64)sk && !renew)
		return c;
	if (c) {
		if (c->sk != (__u64)sk)
			stat_inc(HTTPTRACE_STAT_CONNS_REPLACED);
		conn_forget(id);
	}
	fresh.flags = flag;
	fresh.gen = bpf_ktime_get_ns();
	fresh.sk = (__u64)sk;
	if (flag == HTTPTRACE_CONN_ACCEPTED && BPF_CORE_READ(sk, __sk_common.skc_family) != HT_AF_UNIX) {
		__u8 state = sock_state(sk);

		fresh.seq0[HTTPTRACE_DIR_RECV] = app_seq(sk, HTTPTRACE_DIR_RECV, state);
		fresh.seq0[HTTPTRACE_DIR_SEND] = app_seq(sk, HTTPTRACE_DIR_SEND, state);
		fresh.anchored[HTTPTRACE_DIR_RECV] = fresh.anchored[HTTPTRACE_DIR_SEND] = 1;
	}
	conn_addresses(&fresh, sk);
	fresh.unselected = !conn_selected(&fresh);
	if (bpf_map_update_elem(&conns, &id, &fresh, BPF_NOEXIST) == 0) {
		stat_inc(fresh.unselected ? HTTPTRACE_STAT_CONNS_UNSELECTED : conn_stat(flag));
		bpf_map_update_elem(&conn_socks, &fresh.sk, &id, BPF_ANY);
	}
	return bpf_map_lookup_elem(&conns, &id);
}

/*
 * True when the socket's counts are not the application's bytes: a ULP
 * such as kernel TLS sits between (its records' framing is counted in the
 * sequence numbers, and it reads ahead). Checked only where the counts
 * disagree with a call, so that the common path pays nothing.
 */
static __always_inline bool counts_foreign(struct sock *sk)
{
	return BPF_CORE_READ((struct inet_connection_sock *)sk, icsk_ulp_ops) != NULL;
}

/*
 * Accounts bytes a call moved in direction dir of connection c (socket sk)
 * and returns the stream position they start at. The socket's sequence
 * says where they end: what it moved beyond the last bytes accounted and
 * this call's is *unseen, bytes no record carried (splice, io_uring, a
 * syscall not hooked, a return missed), placed before this call's. The
 * 32-bit sequence is taken relative to the last position stored, so a
 * stretch of up to 4 GiB between two records is counted right; no position
 * is stored beyond the socket's.
 *
 * Where the socket moved less than the call since the last bytes accounted
 * (another thread's call on the socket returned first), the bytes are
 * placed where the socket says they end, over bytes already accounted if
 * need be: user space passes on only what is new. Where the socket moved
 * nothing at all for the call, or a ULP (kernel TLS) sits on it, or it is
 * in CLOSE, its sequence is not the application's: the connection is
 * counted by its calls from then on.
 *
 * Positions are written with plain stores: a racing call's store may win,
 * which costs nothing, as every position is read from the socket.
 */
static __always_inline __u64 conn_advance(struct conn *c, struct sock *sk, __u8 dir, __u64 bytes, __u64 *unseen)
{
	__u8 state = sock_state(sk);
	__u32 seq, moved;
	__u64 last;

	dir &= 1;
	last = c->pos[dir];
	*unseen = 0;
	if (c->foreign || state == HT_TCP_CLOSE) {
		c->pos[dir] = last + bytes;
		return last;
	}
	seq = app_seq(sk, dir, state);
	if (!c->anchored[dir]) {
		c->seq0[dir] = seq - (__u32)bytes;
		c->anchored[dir] = 1;
	}
	moved = seq - c->seq0[dir] - (__u32)last;
	if (moved != bytes && (moved == 0 || counts_foreign(sk))) {
		c->foreign = 1;
		c->pos[dir] = last + bytes;
		return last;
	}
	if (moved < bytes) {
		stat_inc(HTTPTRACE_STAT_POS_BEHIND);
		c->pos[dir] = last + moved;
		return last + moved > bytes ? last + moved - bytes : 0;
	}
	*unseen = moved - bytes;
	c->pos[dir] = last + moved;
	return last + *unseen;
}

/*
 * Where direction dir of connection c ends as its socket, in state state,
 * is closed: the stream position after the last byte the application
 * moved, or 0 when it is not known (a direction not anchored, counts that
 * are not the application's, CLOSE).
 */
static __always_inline __u64 conn_end(const struct conn *c, struct sock *sk, __u8 dir, __u8 state)
{
	__u32 moved;

	dir &= 1;
	/* A TLS connection's stream is its plaintext: the socket's counts are not its positions. */
	if (!c->anchored[dir] || c->foreign || c->tls || state == HT_TCP_CLOSE)
		return 0;
	moved = app_seq(sk, dir, state) - c->seq0[dir] - (__u32)c->pos[dir];
	if (moved > (1U << 31)) /* behind the last position: nothing moved since */
		return c->pos[dir];
	return c->pos[dir] + moved;
}

/* An accept returned or a connect succeeded on fd: record the connection with flag. */
static __always_inline void conn_hint(__u32 tgid, __s32 fd, __u8 flag)
{
	struct sock *sk = NULL;
	__u64 id = conn_of_fd(tgid, fd, &sk);

	if (id)
		conn_get(id, sk, flag, flag == HTTPTRACE_CONN_CONNECTED);
}

#endif /* HTTPTRACE_CONN_H */
