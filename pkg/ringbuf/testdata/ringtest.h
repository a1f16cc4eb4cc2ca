/* SPDX-License-Identifier: GPL-2.0 */
/* What user space and ringtest.bpf.c agree on: the request, its modes and the counters. */
#ifndef RINGTEST_H
#define RINGTEST_H

/*
 * A request is prctl(RINGTEST_OPTION, mode, payload pointer, length) from the
 * target process; the kernel rejects the option, the program acts on it.
 */
#define RINGTEST_OPTION 0x52494e47 /* "RING" */

/* Payload bytes: variable records take 8..RINGTEST_MAX_LEN, reserved ones exactly RINGTEST_FIXED_LEN. */
#define RINGTEST_MAX_LEN 1024
#define RINGTEST_FIXED_LEN 48

/*
 * Every committed record starts with its sequence number, a __u64 counted
 * from 0. Requests come from one thread at a time, so the numbers have no gaps.
 */

enum ringtest_mode {
	RINGTEST_OUTPUT = 0,            /* bpf_ringbuf_output, flags 0 */
	RINGTEST_OUTPUT_NO_WAKEUP = 1,  /* bpf_ringbuf_output, BPF_RB_NO_WAKEUP */
	RINGTEST_OUTPUT_FORCE_WAKEUP = 2, /* bpf_ringbuf_output, BPF_RB_FORCE_WAKEUP */
	RINGTEST_SUBMIT = 3,            /* bpf_ringbuf_reserve + bpf_ringbuf_submit, fixed length */
	RINGTEST_DISCARD = 4,           /* bpf_ringbuf_reserve + bpf_ringbuf_discard, fixed length */
	RINGTEST_FILL = 5,              /* length fixed-length records, no wakeup, until one fails */
};

enum ringtest_count {
	RINGTEST_COMMITTED = 0,       /* records submitted; the next sequence number */
	RINGTEST_OUTPUT_FAILED = 1,   /* bpf_ringbuf_output refused: the ring was full */
	RINGTEST_RESERVE_FAILED = 2,  /* bpf_ringbuf_reserve refused: the ring was full */
	RINGTEST_DISCARDED = 3,       /* records reserved and discarded */
	RINGTEST_REJECTED = 4,        /* requests with a bad mode, length or payload pointer */
	RINGTEST_COUNTS = 5,
};

#endif
