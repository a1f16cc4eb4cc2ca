/* What user space asked the programs to leave out: body bytes it will not read, connections that are not HTTP. */
#ifndef HTTPTRACE_SKIPS_H
#define HTTPTRACE_SKIPS_H

#include "conn.h"

/*
 * Mutes connection id (c) for the rest of its life, as user space asked
 * with HTTPTRACE_SKIP_ALL: the mark moves from conn_skips into the conns
 * entry, so it lasts as long as the connection whatever conn_skips evicts.
 */
static __always_inline void conn_mute(__u64 id, struct conn *c)
{
	struct skip_key key = {.conn = id};

	c->muted = 1;
	bpf_map_delete_elem(&conn_skips, &key);
	key.dir = HTTPTRACE_DIR_SEND;
	bpf_map_delete_elem(&conn_skips, &key);
}

/*
 * Where user space wants copying to resume in one direction of generation
 * gen (0: copy everything). A skip set for another generation is stale: a
 * hint that raced the connection's replacement.
 */
static __always_inline __u64 conn_skip_to(__u64 id, __u64 gen, __u8 dir)
{
	struct skip_key key = {.conn = id, .dir = dir};
	__u32 zero = 0, *set = bpf_map_lookup_elem(&skips_set, &zero);
	struct skip_to *to;

	if (!set || !*set)
		return 0;
	to = bpf_map_lookup_elem(&conn_skips, &key);
	if (!to || (to->gen && to->gen != gen))
		return 0;
	return to->pos;
}

/*
 * conn_skip_to for connection id (c) of generation gen; when user space
 * asked to mute it (HTTPTRACE_SKIP_ALL), it is muted now and the transfer
 * counted as not HTTP: the caller sends nothing.
 */
static __always_inline __u64 conn_skip_or_mute(__u64 id, struct conn *c, __u64 gen, __u8 dir)
{
	__u64 skip_to = conn_skip_to(id, gen, dir);

	if (skip_to == HTTPTRACE_SKIP_ALL) {
		conn_mute(id, c);
		stat_inc(HTTPTRACE_STAT_NOT_HTTP);
	}
	return skip_to;
}

#endif /* HTTPTRACE_SKIPS_H */
