/* Which connections are TLS: their syscalls' bytes are TLS records, counted and not sent; the maps the TLS programs share. */
#ifndef HTTPTRACE_TLSWIRE_H
#define HTTPTRACE_TLSWIRE_H

#include "skips.h"

/* The first bytes of a TLS record: a content type (change_cipher_spec 20 to application_data 23) and version 3.x. */
#define HT_TLS_TYPE_MIN 20
#define HT_TLS_TYPE_MAX 23
#define HT_TLS_MAJOR 3

/*
 * Whether the TLS programs run (uprobes may attach): set by user space
 * before load. Off, syscall returns do not look for a TLS call in flight.
 */
const volatile bool trace_tls = false;

/* A call of a TLS library's read or write in flight on one thread. */
struct tls_call {
	__u64 tls;      /* the library's connection object (OpenSSL: SSL *); 0: no call in flight */
	__u64 buf;      /* the plaintext buffer */
	__u64 size_ptr; /* where the library writes the byte count (SSL_read_ex); 0: the return value is it */
	__u64 start_ns;
	__u64 conn;     /* the connection the call's nested syscall moved bytes on (0: none yet) */
	__u64 gen;      /* its generation */
	__u64 sp;       /* the stack pointer at the entry: the return of this call, not of another, consumes it */
	__s32 fd;       /* its fd */
	__u8 dir;       /* enum httptrace_direction */
	__u8 go;        /* a Go call (bpf/gotls.h): placed by its own fields, never by the object cache */
	__u8 logged;    /* a Go Write's bytes went out as records at its entry */
	__u8 pad[1];
	/*
	 * The TLS connection this thread last read records from outside any
	 * TLS call: where a library fed from memory (Node: the event loop
	 * reads the socket, then hands the bytes to OpenSSL) finds the
	 * plaintext's connection when no syscall is nested in its read.
	 */
	__u64 last_conn;
	__u64 last_gen;
	__s32 last_fd;
	__u32 pad2;
	__u64 len;      /* a Go Write's length: its return with fewer written failed */
};

/*
 * TLS calls in flight, keyed by pid_tgid: written in place at each entry,
 * marked done (tls 0) at the return, deleted when the thread exits.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct tls_call);
} tls_calls SEC(".maps");

/* The key of tls_conns: one connection object of one process. */
struct tls_key {
	__u32 tgid;
	__u32 pad;
	__u64 tls;
};

/* The connection a TLS connection object was last seen moving bytes on. */
struct tls_conn {
	__u64 conn;
	__u64 gen;
	__s32 fd;
	__u32 pad;
};

/*
 * Connection objects to connections, so that a read the library serves
 * from what it buffered (no syscall nested) is still placed. An entry is
 * checked against the live connection (its generation) each time it is
 * used, and deleted when the connection is gone; LRU bounds the rest.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct tls_key);
	__type(value, struct tls_conn);
} tls_conns SEC(".maps");

/*
 * Marks connection id (c) TLS from now on. What user space asked of its
 * socket bytes (skips, a mute: the ciphertext is not HTTP) is dropped: its
 * plaintext is a stream of its own.
 */
static __always_inline void tls_begin(__u64 id, struct conn *c)
{
	struct skip_key key = {.conn = id};

	if (c->tls)
		return;
	c->tls = 1;
	c->muted = 0;
	bpf_map_delete_elem(&conn_skips, &key);
	key.dir = HTTPTRACE_DIR_SEND;
	bpf_map_delete_elem(&conn_skips, &key);
	stat_inc(HTTPTRACE_STAT_TLS_CONNS);
}

/*
 * Whether the bytes at ptr (a transfer's first, shape SHAPE_BUFFER, or its
 * first iovec's) start a TLS record: a content type and version 3.x.
 */
static __always_inline bool starts_tls_record(const struct call *c)
{
	__u64 ptr = c->ptr;
	__u8 b[3];

	if (c->shape == SHAPE_IOVEC) {
		struct iovec iov;

		if (!c->iovlen || bpf_probe_read_user(&iov, sizeof(iov), (const void *)c->ptr))
			return false;
		if (iov.iov_len < sizeof(b))
			return false;
		ptr = (__u64)iov.iov_base;
	} else if (c->shape != SHAPE_BUFFER) {
		return false;
	}
	if (bpf_probe_read_user(b, sizeof(b), (const void *)ptr))
		return false;
	return b[0] >= HT_TLS_TYPE_MIN && b[0] <= HT_TLS_TYPE_MAX && b[1] == HT_TLS_MAJOR && b[2] <= 4;
}

/*
 * A syscall of thread pid_tgid moved bytes on connection id (conn): true
 * when they are TLS records, which are counted and never sent (the
 * plaintext comes from the TLS programs). A connection is TLS once a
 * syscall on it runs inside a probed TLS call (the call learns its
 * connection then), or when its first bytes, either way, are a TLS record
 * (a handshake, made before any read or write call).
 */
static __always_inline bool tls_ciphertext(const struct call *c, __u64 pid_tgid, __u64 id, struct conn *conn)
{
	struct tls_call *tc = NULL;

	if (!trace_tls)
		return false;
	/* Only a syscall inside a probed call looks the call up: plaintext-only threads pay no lookup. */
	if (c->msg & CALL_IN_TLS)
		tc = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
	if (tc && tc->tls) {
		tc->conn = id;
		tc->gen = conn->gen;
		tc->fd = c->fd;
		tls_begin(id, conn);
	} else if (!conn->tls && !conn->pos[0] && !conn->pos[1] && !(c->msg & CALL_TRUNC) && starts_tls_record(c)) {
		tls_begin(id, conn);
	}
	if (!conn->tls)
		return false;
	if (c->dir == HTTPTRACE_DIR_RECV && !(tc && tc->tls)) {
		struct tls_call fresh = {.last_conn = id, .last_gen = conn->gen, .last_fd = c->fd};

		if (!tc)
			tc = bpf_map_lookup_elem(&tls_calls, &pid_tgid);
		if (tc) {
			tc->last_conn = id;
			tc->last_gen = conn->gen;
			tc->last_fd = c->fd;
		} else {
			bpf_map_update_elem(&tls_calls, &pid_tgid, &fresh, BPF_ANY);
		}
	}
	stat_inc(HTTPTRACE_STAT_TLS_CIPHERTEXT);
	return true;
}

#endif /* HTTPTRACE_TLSWIRE_H */
