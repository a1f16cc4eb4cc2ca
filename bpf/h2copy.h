/* HTTP/2 connections: each call copied whole, as consecutive records (a buffer call's; copy.h's walk does an iovec call's). */
#ifndef HTTPTRACE_H2COPY_H
#define HTTPTRACE_H2COPY_H

#include "record.h"

/*
 * HTTP/2 is read from its frames, and a frame header or header block past
 * a call's first capture_bytes would lose the framing and the HPACK state
 * with it. So a connection that opened with the client preface has each
 * call copied whole, as consecutive records of up to
 * HTTPTRACE_MAX_CAPTURE_BYTES at consecutive positions (whatever
 * capture_bytes says), up to HTTPTRACE_H2_CHUNKS of them: the last carries
 * the rest of a longer call, uncaptured past its first part.
 */
#define HTTPTRACE_H2_CHUNKS 8

#ifdef HTTPTRACE_LEGACY
#define HTTPTRACE_IS_LEGACY 1
#else
#define HTTPTRACE_IS_LEGACY 0
#endif

/* The client preface's first word, "PRI ", as it sits in memory. */
#define HTTPTRACE_H2_PRI 0x20495250

/*
 * Whether a buffer call at the stream's start (pos 0) moved HTTP/2's client
 * preface. Its first word is read into the record being built (d), which
 * the call's own copy overwrites.
 */
static __always_inline bool h2_preface(struct httptrace_data *d, const struct call *c, __u64 pos, __u64 bytes)
{
	if (pos != 0 || bytes < sizeof(__u32) || (c->msg & CALL_TRUNC))
		return false;
	if (bpf_probe_read_user(d->data, sizeof(__u32), (const void *)c->ptr))
		return false;
	return *(__u32 *)d->data == HTTPTRACE_H2_PRI;
}

/* The part of a call of len bytes that chunk k starts, done bytes in, covers. */
static __always_inline __u64 h2_span(int k, __u64 len, __u64 done)
{
	__u64 span = len - done;

	if (k < HTTPTRACE_H2_CHUNKS - 1 && span > HTTPTRACE_MAX_CAPTURE_BYTES)
		span = HTTPTRACE_MAX_CAPTURE_BYTES;
	return span;
}

/*
 * One call of an HTTP/2 connection being sent in chunks (bpf_loop's
 * context). The cursor lives in scratch.h2 and is reloaded each step, for
 * the verifier, as the iovec walk's does.
 */
struct h2_walk {
	struct scratch *s;
	const struct call *c;
	__u64 pos; /* the call's stream position */
	__u64 len; /* bytes it moved */
};

/* Sends the next chunk of an HTTP/2 call; 1 when the call is all sent. */
static __always_inline long h2_chunk(const struct h2_walk *w)
{
	struct httptrace_data *d = &w->s->rec;
	volatile struct h2_cursor *cur = &w->s->h2;
	__u64 done = cur->done, span, n;
	__u32 k = cur->k;

	if (k >= HTTPTRACE_H2_CHUNKS || done >= w->len)
		return 1;
	span = h2_span(k, w->len, done);
	if (span > HTTPTRACE_MAX_CAPTURE_BYTES)
		stat_inc(HTTPTRACE_STAT_H2_CUT); /* the last chunk, of a call past them all */
	n = span;
	barrier_var(n); /* a bounded register for the helper, as in send_span */
	if (n > HTTPTRACE_MAX_CAPTURE_BYTES)
		n = HTTPTRACE_MAX_CAPTURE_BYTES;
	if (n && bpf_probe_read_user(d->data, n, (const void *)(w->c->ptr + done))) {
		stat_inc(HTTPTRACE_STAT_READ_USER_FAILED);
		n = 0;
	}
	d->part = k;
	send_record(d, w->pos + done, span, 0, n);
	d->unseen_bytes = 0; /* they come before the first chunk only */
	cur->done = done + span;
	cur->k = k + 1;
	return 0;
}

#ifndef HTTPTRACE_LEGACY
static long h2_chunk_cb(__u64 index, void *ctx)
{
	return h2_chunk(ctx);
}
#endif

/* Sends a buffer call of an HTTP/2 connection whole, in chunks (send_iovecs does an iovec call's). */
static __always_inline void send_h2(struct scratch *s, const struct call *c, __u64 pos, __u64 len)
{
	struct h2_walk w = {.s = s, .c = c, .pos = pos, .len = len};

	s->h2.done = 0;
	s->h2.k = 0;

#ifdef HTTPTRACE_LEGACY
	for (int k = 0; k < HTTPTRACE_H2_CHUNKS; k++)
		if (h2_chunk(&w))
			break;
#else
	bpf_loop(HTTPTRACE_H2_CHUNKS, h2_chunk_cb, &w, 0);
#endif
}

#endif /* HTTPTRACE_H2COPY_H */
