/* The one emit path: every record goes to the events ring buffer through emit(). */
#ifndef HTTPTRACE_EMIT_H
#define HTTPTRACE_EMIT_H

#include "maps.h"

/*
 * Ring fill level, in bytes, at which a record wakes the reader: the record
 * that brings the ring to it wakes, and so does each that brings it past a
 * further multiple of it (in case the reader left records behind); the
 * others are written without a wake-up and user space finds them on its
 * next timed poll. Only crossings wake: a wake-up per record while the ring
 * stays full would send the reader, already awake, an interrupt each time.
 * Set by user space before load (not 0).
 */
const volatile __u64 wakeup_bytes = 4 << 20;

/*
 * Writes one record of size bytes, counting it as sent or dropped; now
 * wakes the reader whatever the fill level (a record user space must act
 * on at once).
 */
static __always_inline void emit_wake(void *rec, __u64 size, bool now)
{
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (now || avail / wakeup_bytes != (avail + size) / wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, rec, size, flags))
		stat_inc(HTTPTRACE_STAT_RECORDS_DROPPED);
	else
		stat_inc(HTTPTRACE_STAT_RECORDS_SENT);
}

/* Writes one record of size bytes, waking the reader as wakeup_bytes says. */
static __always_inline void emit(void *rec, __u64 size)
{
	emit_wake(rec, size, false);
}

/*
 * Sends a close record for connection id of generation gen, closed through
 * fd, whose directions end at end[dir].
 */
static __always_inline void emit_close(__u64 id, __u64 gen, __s32 fd, const __u64 *end)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct httptrace_close rec = {
		.kind = HTTPTRACE_REC_CLOSE,
		.pid = pid_tgid >> 32,
		.tid = (__u32)pid_tgid,
		.fd = fd,
		.timestamp_ns = bpf_ktime_get_ns(),
		.conn = id,
		.gen = gen,
		.end_pos = {end[0], end[1]},
	};

	emit(&rec, sizeof(rec));
}

/* Sends a close record for a connection whose socket ended with no close(2) seen. */
static __always_inline void emit_end(__u64 id, __u64 gen, const __u64 *end)
{
	struct httptrace_close rec = {
		.kind = HTTPTRACE_REC_CLOSE,
		.fd = -1,
		.timestamp_ns = bpf_ktime_get_ns(),
		.conn = id,
		.gen = gen,
		.end_pos = {end[0], end[1]},
	};

	emit(&rec, sizeof(rec));
}

/* Sends a process record. */
/* Whether a fork record wakes the reader at once: set by user space before load. */
const volatile bool wake_on_fork = false;

static __always_inline void emit_proc(__u32 op, __u32 pid, __u32 ppid, struct task_struct *task)
{
	struct httptrace_proc rec = {
		.kind = HTTPTRACE_REC_PROC,
		.op = op,
		.pid = pid,
		.ppid = ppid,
		.timestamp_ns = bpf_ktime_get_ns(),
	};

	BPF_CORE_READ_STR_INTO(&rec.comm, task, comm);
	/*
	 * A mapped TLS library, and a forked child when TLS probes are per
	 * process (wake_on_fork), are probed at once: their first calls may be
	 * near.
	 */
	emit_wake(&rec, sizeof(rec), op == HTTPTRACE_PROC_TLS_MAP || (wake_on_fork && op == HTTPTRACE_PROC_FORK));
}

#endif /* HTTPTRACE_EMIT_H */
