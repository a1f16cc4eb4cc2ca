/* The wire format between the BPF programs and user space: the one definition of it. */
#ifndef HTTPTRACE_EVENT_H
#define HTTPTRACE_EVENT_H

/*
 * Plain fixed-width types only, so that this header builds both against
 * vmlinux.h (BPF side) and against <linux/types.h> (user space, for the
 * layout check). Every field is naturally aligned; no implicit padding.
 */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Largest capture the programs can be configured for (capture_bytes). */
#define HTTPTRACE_MAX_CAPTURE_BYTES 8192
#define HTTPTRACE_COMM_LEN 16

/* What an event carries. Responses will be a second kind. */
enum httptrace_event_kind {
	HTTPTRACE_EVENT_REQUEST = 1,
};

/* One read of a tracked socket that starts like an HTTP/1.x request. */
struct httptrace_event {
	__u64 timestamp_ns;   /* bpf_ktime_get_ns() at the read's return */
	__u32 pid;            /* process (tgid) */
	__u32 tid;            /* thread */
	__s32 fd;             /* socket file descriptor in that process */
	__u32 kind;           /* enum httptrace_event_kind */
	__u32 read_bytes;     /* what the read returned */
	__u32 captured_bytes; /* how much of it is in data[] (<= capture_bytes) */
	char comm[HTTPTRACE_COMM_LEN];
	__u8 data[HTTPTRACE_MAX_CAPTURE_BYTES];
};

/* Counters kept by the programs, one slot each in the stats map. */
enum httptrace_stat {
	HTTPTRACE_STAT_SOCKETS_TRACKED = 0, /* accepted fds added to active_sockets */
	HTTPTRACE_STAT_SOCKETS_CLOSED,      /* tracked fds removed on close */
	HTTPTRACE_STAT_READS,               /* read entries on a tracked socket */
	HTTPTRACE_STAT_READ_RETURNS,        /* read returns matched to an entry */
	HTTPTRACE_STAT_RETURNS_MISSED,      /* entry found its thread's previous entry unreturned */
	HTTPTRACE_STAT_NOT_HTTP,            /* reads that did not start like a request */
	HTTPTRACE_STAT_READ_USER_FAILED,    /* bpf_probe_read_user failed */
	HTTPTRACE_STAT_EVENTS_SENT,         /* events written to the perf buffer */
	HTTPTRACE_STAT_EVENTS_DROPPED,      /* perf output failed (buffer full) */
	HTTPTRACE_STAT_COUNT,
};

#endif /* HTTPTRACE_EVENT_H */
