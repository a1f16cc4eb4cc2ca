/* Data copy shapes: one buffer, an iovec array, or nothing (sendfile), each sent as data records. */
#ifndef HTTPTRACE_COPY_H
#define HTTPTRACE_COPY_H

#include "conn.h"
#include "skips.h"
#include "emit.h"
#include "tlswire.h"
#include "record.h"
#include "h2copy.h"

/*
 * Sends an iovec transfer as one record: the bytes of its iovecs follow each
 * other in data[], as they do in the stream, up to what capture_window
 * allows. The walk goes through every iovec (HTTPTRACE_MAX_IOVS, the most
 * the kernel accepts) with bpf_loop, so a header section written as hundreds
 * of small iovecs is copied whole. The legacy object (kernels without
 * bpf_loop) walks the first HTTPTRACE_LEGACY_MAX_IOVS in a bounded loop,
 * which is what the 5.10 verifier follows through; bytes past them are
 * counted as iov_cut. The iovec array is read HTTPTRACE_IOV_BATCH entries
 * at a time, as the walk reaches them. Copying stops at an iovec that cannot
 * be read; the record still counts every byte moved.
 *
 * Each step copies up to HTTPTRACE_COPY_CHUNK bytes of one iovec to an
 * offset below the end of data[] (the verifier checks offset and length each
 * at their largest, which scratch.spill leaves room for). A step either ends
 * an iovec or copies a whole chunk, so one step per iovec plus one per chunk
 * of the largest capture covers every transfer. The cursor lives in the
 * scratch map and is reloaded each step, so the verifier sees every path
 * through a step end in the same state rather than following each apart.
 */
_Static_assert((HTTPTRACE_MAX_CAPTURE_BYTES & (HTTPTRACE_MAX_CAPTURE_BYTES - 1)) == 0,
	       "iov_step masks offsets with HTTPTRACE_MAX_CAPTURE_BYTES - 1");
_Static_assert((HTTPTRACE_IOV_BATCH & (HTTPTRACE_IOV_BATCH - 1)) == 0 && HTTPTRACE_MAX_IOVS % HTTPTRACE_IOV_BATCH == 0 &&
		       HTTPTRACE_LEGACY_MAX_IOVS == HTTPTRACE_IOV_BATCH,
	       "the walk reads whole batches at multiples of HTTPTRACE_IOV_BATCH; the legacy walk one batch");

#ifdef HTTPTRACE_LEGACY
#define HTTPTRACE_WALK_IOVS HTTPTRACE_LEGACY_MAX_IOVS
#else
#define HTTPTRACE_WALK_IOVS HTTPTRACE_MAX_IOVS
#endif
#define HTTPTRACE_WALK_STEPS (HTTPTRACE_WALK_IOVS + HTTPTRACE_MAX_CAPTURE_BYTES / HTTPTRACE_COPY_CHUNK)

/* One walk through a transfer's iovecs (bpf_loop's context). */
struct iov_walk {
	struct scratch *s;
	__u64 ptr;   /* the iovec array in user memory */
	__u64 count; /* iovecs to walk */
	__u64 want;  /* bytes to copy */
	__u64 bytes; /* bytes the transfer moved */
	__u64 skip;  /* bytes at its start to pass over */
	__u64 pos;   /* its stream position */
	__u64 h2;    /* an HTTP/2 connection's: sent whole, a record each time data[] fills */
};

/* Reads the batch of iovecs that iovec i is in; false when it cannot. */
static __always_inline bool read_iov_batch(const struct iov_walk *w, __u32 i)
{
	__u64 base = i & ~(__u64)(HTTPTRACE_IOV_BATCH - 1), n = w->count - base;

	if (n > HTTPTRACE_IOV_BATCH)
		n = HTTPTRACE_IOV_BATCH;
	barrier_var(n); /* a bounded register for the helper, as in send_span */
	if (n > HTTPTRACE_IOV_BATCH)
		n = HTTPTRACE_IOV_BATCH;
	if (!n || bpf_probe_read_user(w->s->iov, n * sizeof(struct iovec), (const void *)(w->ptr + base * sizeof(struct iovec)))) {
		stat_inc(HTTPTRACE_STAT_READ_USER_FAILED);
		return false;
	}
	w->s->cur.batch = base;
	return true;
}

/*
 * An HTTP/2 call's walk has filled data[]: sends it as the record of the
 * next HTTPTRACE_MAX_CAPTURE_BYTES of the call and empties it, unless the
 * call ends there or the next record is its last (which carries the rest,
 * uncaptured past its first part). False when the walk is over.
 */
static __always_inline bool h2_flush(const struct iov_walk *w)
{
	volatile struct iov_cursor *cur = &w->s->cur;
	__u64 sent = cur->sent;

	if (!w->h2 || sent + HTTPTRACE_MAX_CAPTURE_BYTES >= w->bytes ||
	    sent >= (HTTPTRACE_H2_CHUNKS - 1) * HTTPTRACE_MAX_CAPTURE_BYTES)
		return false;
	send_record(&w->s->rec, w->pos + sent, HTTPTRACE_MAX_CAPTURE_BYTES, 0, HTTPTRACE_MAX_CAPTURE_BYTES);
	w->s->rec.unseen_bytes = 0; /* they come before the first record only */
	w->s->rec.part++;
	cur->sent = sent + HTTPTRACE_MAX_CAPTURE_BYTES;
	cur->got = 0;
	return true;
}

/* One step of the walk; 1 when it is over. */
static __always_inline long iov_step(const struct iov_walk *w)
{
	struct scratch *s = w->s;
	volatile struct iov_cursor *cur = &s->cur;
	/* i: the iovec; seg: where it starts in the transfer; off: how far into it copying has got. */
	__u64 got = cur->got, seg = cur->seg, off = cur->off, len, n, at;
	__u32 i = cur->i, b;

	if (cur->failed || i >= w->count || i >= HTTPTRACE_WALK_IOVS || seg >= w->bytes)
		return 1;
	if (got >= w->want) {
		if (HTTPTRACE_IS_LEGACY || !h2_flush(w))
			return 1;
		got = 0;
	}
#ifndef HTTPTRACE_LEGACY /* the legacy walk is one batch, read before it */
	if (i - cur->batch >= HTTPTRACE_IOV_BATCH && !read_iov_batch(w, i)) {
		cur->failed = 1;
		return 1;
	}
#endif
	b = i & (HTTPTRACE_IOV_BATCH - 1); /* its place in the batch read */
	len = s->iov[b].iov_len;
	if (len > w->bytes - seg)
		len = w->bytes - seg;
	if (w->skip > seg && off < w->skip - seg)
		off = w->skip - seg; /* the skipped part of this iovec */
	if (off < len) {
		n = len - off;
		if (n > w->want - got)
			n = w->want - got;
		/*
		 * The offset is masked where it is used, for the verifier: got <
		 * want <= HTTPTRACE_MAX_CAPTURE_BYTES, so the mask changes
		 * nothing, and the barrier keeps clang from dropping it. (A
		 * bounds test instead lets clang reload the unbounded copy,
		 * which the 5.10 and 6.1 verifiers cannot tie to the tested one.)
		 */
		at = got;
		barrier_var(at);
		at &= HTTPTRACE_MAX_CAPTURE_BYTES - 1;
		barrier_var(n);
		if (n > HTTPTRACE_COPY_CHUNK)
			n = HTTPTRACE_COPY_CHUNK;
		if (bpf_probe_read_user(s->rec.data + at, n, (const void *)(s->iov[b].iov_base + off))) {
			stat_inc(HTTPTRACE_STAT_READ_USER_FAILED);
			cur->failed = 1;
			return 1;
		}
		cur->got = got + n;
		if (off + n < len) {
			cur->off = off + n;
			return 0;
		}
	}
	cur->seg = seg + len;
	cur->off = 0;
	cur->i = i + 1;
	return 0;
}

#ifndef HTTPTRACE_LEGACY
static long iov_step_cb(__u64 index, void *ctx)
{
	return iov_step(ctx);
}
#endif

/*
 * h2: the call is an HTTP/2 connection's (and nothing of it is skipped): it
 * is sent whole, as send_h2 sends a buffer, the walk sending a record each
 * time data[] fills (except in the legacy object, whose walk is as much as
 * the 5.10 verifier follows: there it is sent as any other).
 */
static __always_inline void send_iovecs(struct scratch *s, const struct call *c, __u64 pos, __u64 bytes, __u64 skip_to,
					bool h2)
{
	struct iov_walk w = {.s = s, .ptr = c->ptr, .count = c->iovlen, .bytes = bytes, .pos = pos};
	volatile struct iov_cursor *cur = &s->cur;
	__u64 got, sent;

	w.want = capture_window(pos, bytes, skip_to, &w.skip);
	if (h2 && !HTTPTRACE_IS_LEGACY) {
		w.h2 = 1;
		w.want = HTTPTRACE_MAX_CAPTURE_BYTES;
	}
	cur->sent = 0;
	cur->got = 0;
	cur->seg = 0;
	cur->off = 0;
	cur->i = 0;
	cur->failed = 0;
	if (w.count > HTTPTRACE_MAX_IOVS)
		w.count = HTTPTRACE_MAX_IOVS; /* the kernel refuses more */
	if (w.want && w.count && !read_iov_batch(&w, 0))
		cur->failed = 1;
#ifdef HTTPTRACE_LEGACY
	for (int step = 0; step < HTTPTRACE_WALK_STEPS; step++)
		if (iov_step(&w))
			break;
#else
	bpf_loop(HTTPTRACE_WALK_STEPS + HTTPTRACE_H2_CHUNKS * (HTTPTRACE_MAX_CAPTURE_BYTES / HTTPTRACE_COPY_CHUNK), iov_step_cb,
		 &w, 0);
#endif
	got = cur->got;
	sent = cur->sent;
	if (!cur->failed && got < w.want && sent + got < bytes)
		stat_inc(HTTPTRACE_STAT_IOV_CUT);
	else if (!HTTPTRACE_IS_LEGACY && h2 && !cur->failed && sent + got < bytes)
		stat_inc(HTTPTRACE_STAT_H2_CUT);
	barrier_var(got);
	if (got > HTTPTRACE_MAX_CAPTURE_BYTES)
		got = HTTPTRACE_MAX_CAPTURE_BYTES;
	if (sent > bytes)
		sent = bytes;
	send_record(&s->rec, pos + sent, bytes - sent, w.skip, got);
}

/*
 * A data syscall of thread pid_tgid moved bytes on connection id (socket
 * sk): account them at the socket's position, whether or not the records
 * reach user space, and send them.
 */
static __always_inline void send_transfer(const struct call *c, __u64 pid_tgid, __u64 id, struct sock *sk, __u64 bytes)
{
	struct scratch *s;
	struct httptrace_data *d;
	struct conn *conn;
	__u64 pos, unseen, skip_to;
	__u32 zero = 0;

	conn = bpf_map_lookup_elem(&conns, &id);
	if (!conn || conn->sk != (__u64)sk) {
		/* First seen on data (or evicted): adopted, unless this read got its first bytes. */
		__u8 flag = HTTPTRACE_CONN_ADOPTED;

		if (c->dir == HTTPTRACE_DIR_RECV && read_from_start(sk, bytes))
			flag = 0;
		conn = conn_get(id, sk, flag, false);
	}
	if (!conn) {
		stat_inc(HTTPTRACE_STAT_CONNS_LOST);
		return;
	}
	if (conn->unselected) {
		stat_inc(HTTPTRACE_STAT_UNSELECTED);
		return;
	}
	/* TLS records: their plaintext comes from the TLS programs. */
	if (tls_ciphertext(c, pid_tgid, id, conn))
		return;
	if (conn->muted) {
		stat_inc(HTTPTRACE_STAT_NOT_HTTP);
		return;
	}
	pos = conn_advance(conn, sk, c->dir, bytes, &unseen);
	if (unseen)
		stat_inc(HTTPTRACE_STAT_UNSEEN);
	/*
	 * Looked up after the position, not before: a value kept live across
	 * conn_advance's branches makes the legacy walk's states too many for
	 * the verifier.
	 */
	skip_to = conn_skip_or_mute(id, conn, conn->gen, c->dir);
	if (skip_to == HTTPTRACE_SKIP_ALL)
		return;
	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return;
	d = &s->rec;
	fill_header(d, c, pid_tgid, id, conn);
	d->unseen_bytes = unseen;
	switch (c->shape) {
	case SHAPE_BUFFER:
		/*
		 * HTTP/2 only here: in the iovec case, the legacy walk's states
		 * would double. User space asks no skips of an HTTP/2 connection
		 * (its protocol gives no hints); one that did would have its
		 * calls copied as any other's, up to capture_bytes.
		 */
		if (!conn->h2 && h2_preface(d, c, pos, bytes))
			conn->h2 = 1;
		if (conn->h2 && skip_to <= pos && !(c->msg & CALL_TRUNC)) {
			send_h2(s, c, pos, bytes);
			break;
		}
		/* MSG_TRUNC: the bytes were consumed but never reached the buffer. */
		send_span(d, pos, bytes, (c->msg & CALL_TRUNC) ? 0 : c->ptr, skip_to);
		break;
	case SHAPE_IOVEC:
		if (c->msg & CALL_TRUNC)
			send_span(d, pos, bytes, 0, skip_to);
		else
			send_iovecs(s, c, pos, bytes, skip_to, conn->h2 && skip_to <= pos);
		/* Counted after the walk: a branch before it doubles the legacy walk's states. */
		if (HTTPTRACE_IS_LEGACY && conn->h2 && bytes > capture_bytes)
			stat_inc(HTTPTRACE_STAT_H2_CUT);
		break;
	default: /* SHAPE_SENDFILE: the bytes never pass through user memory */
		send_span(d, pos, bytes, 0, skip_to);
		break;
	}
}

#endif /* HTTPTRACE_COPY_H */
