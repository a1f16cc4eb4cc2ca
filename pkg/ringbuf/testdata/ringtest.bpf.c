// SPDX-License-Identifier: GPL-2.0
/* Writes ring buffer records on request, for pkg/ringbuf's tests (requests: ringtest.h). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "ringtest.h"

char LICENSE[] SEC("license") = "GPL";

/* The ring under test; user space may resize it before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16384);
} events SEC(".maps");

/* What happened, by enum ringtest_count. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RINGTEST_COUNTS);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

/* Where a variable-length record is put together before bpf_ringbuf_output copies it. */
struct scratch {
	__u8 data[RINGTEST_MAX_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
} scratch SEC(".maps");

/* Only requests from this process count; set before load. */
const volatile __u32 target_tgid = 0;

static __always_inline void bump(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&counts, &which);

	if (n)
		__sync_fetch_and_add(n, 1);
}

/* output copies len bytes from user memory, stamps the next sequence number and outputs them. */
static __always_inline int output(const void *src, __u64 len, __u64 flags, __u64 *seq)
{
	__u32 zero = 0;
	struct scratch *s = bpf_map_lookup_elem(&scratch, &zero);

	if (!s || len < sizeof(__u64) || len > RINGTEST_MAX_LEN ||
	    bpf_probe_read_user(s->data, len, src)) {
		bump(RINGTEST_REJECTED);
		return 0;
	}
	*(__u64 *)s->data = *seq;
	if (bpf_ringbuf_output(&events, s->data, len, flags)) {
		bump(RINGTEST_OUTPUT_FAILED);
		return 0;
	}
	__sync_fetch_and_add(seq, 1);
	return 0;
}

/* reserve reserves a fixed-length record, fills it from user memory, then submits or discards it. */
static __always_inline int reserve(const void *src, bool keep, __u64 *seq)
{
	__u8 *rec = bpf_ringbuf_reserve(&events, RINGTEST_FIXED_LEN, 0);

	if (!rec) {
		bump(RINGTEST_RESERVE_FAILED);
		return 0;
	}
	if (bpf_probe_read_user(rec, RINGTEST_FIXED_LEN, src))
		__builtin_memset(rec, 0, RINGTEST_FIXED_LEN);
	*(__u64 *)rec = *seq;
	if (!keep) {
		bpf_ringbuf_discard(rec, 0);
		bump(RINGTEST_DISCARDED);
		return 0;
	}
	bpf_ringbuf_submit(rec, 0);
	__sync_fetch_and_add(seq, 1);
	return 0;
}

/* bpf_loop's context must live on the stack: it carries the sequence number's address. */
struct fill_ctx {
	__u64 *seq;
};

/* One record of a fill; ends the loop when the ring is full. */
static long fill_one(__u32 index, void *ctx)
{
	__u64 *seq = ((struct fill_ctx *)ctx)->seq;
	__u64 rec[RINGTEST_FIXED_LEN / sizeof(__u64)] = {};

	rec[0] = *seq;
	rec[1] = index;
	if (bpf_ringbuf_output(&events, rec, sizeof(rec), BPF_RB_NO_WAKEUP)) {
		bump(RINGTEST_OUTPUT_FAILED);
		return 1;
	}
	__sync_fetch_and_add(seq, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_prctl")
int on_prctl(struct trace_event_raw_sys_enter *ctx)
{
	__u32 which = RINGTEST_COMMITTED;
	const void *src = (const void *)ctx->args[2];
	__u64 len = ctx->args[3];
	struct fill_ctx fill;
	__u64 *seq;

	if (ctx->args[0] != RINGTEST_OPTION || (bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	/* The committed count doubles as the next sequence number. */
	seq = bpf_map_lookup_elem(&counts, &which);
	if (!seq)
		return 0;
	switch (ctx->args[1]) {
	case RINGTEST_OUTPUT:
		return output(src, len, 0, seq);
	case RINGTEST_OUTPUT_NO_WAKEUP:
		return output(src, len, BPF_RB_NO_WAKEUP, seq);
	case RINGTEST_OUTPUT_FORCE_WAKEUP:
		return output(src, len, BPF_RB_FORCE_WAKEUP, seq);
	case RINGTEST_SUBMIT:
		return reserve(src, true, seq);
	case RINGTEST_DISCARD:
		return reserve(src, false, seq);
	case RINGTEST_FILL:
		fill.seq = seq;
		bpf_loop(len, fill_one, &fill, 0);
		return 0;
	}
	bump(RINGTEST_REJECTED);
	return 0;
}
