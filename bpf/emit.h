/* The one emit path: every record goes to the events ring buffer through emit(). */
#ifndef HTTPTRACE_EMIT_H
#define HTTPTRACE_EMIT_H

#include "maps.h"

/*
 * Ring fill level, in bytes, at which a record wakes the reader: the record
 * that brings the ring to it wakes, those before are written without a
 * wake-up and user space finds them on its next timed poll. Set by user
 * space before load.
 */
const volatile __u64 wakeup_bytes = 4 << 20;

/* Writes one record of size bytes, counting it as sent or dropped. */
static __always_inline void emit(void *rec, __u64 size)
{
	__u64 flags = BPF_RB_NO_WAKEUP;

	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + size >= wakeup_bytes)
		flags = BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_output(&events, rec, size, flags))
		stat_inc(HTTPTRACE_STAT_RECORDS_DROPPED);
	else
		stat_inc(HTTPTRACE_STAT_RECORDS_SENT);
}

/* Sends a close record for connection id, closed through fd. */
static __always_inline void emit_close(__u64 id, __s32 fd)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	struct httptrace_close rec = {
		.kind = HTTPTRACE_REC_CLOSE,
		.pid = pid_tgid >> 32,
		.tid = (__u32)pid_tgid,
		.fd = fd,
		.timestamp_ns = bpf_ktime_get_ns(),
		.conn = id,
	};

	emit(&rec, sizeof(rec));
}

/* Sends a process record. */
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
	emit(&rec, sizeof(rec));
}

#endif /* HTTPTRACE_EMIT_H */
