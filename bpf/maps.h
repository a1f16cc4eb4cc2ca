/* The maps shared by every program, one commented block each. */
#ifndef HTTPTRACE_MAPS_H
#define HTTPTRACE_MAPS_H

#include "event.h"

/* Processes (tgid) to trace, filled by user space before attaching. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} tracked_pids SEC(".maps");

/* A socket of a tracked process: the key of active_sockets. */
struct socket_key {
	__u32 pid;
	__s32 fd;
};

/* A method is told by its first four bytes (see http.h). */
#define HTTPTRACE_METHOD_BYTES 4
/* The most bytes a read too short to tell can leave for the next one. */
#define HTTPTRACE_CARRY_BYTES (HTTPTRACE_METHOD_BYTES - 1)

/*
 * The start of a request read in pieces shorter than a method: Go's
 * net/http reads the first byte of a keep-alive request alone when it
 * arrives while the previous handler runs.
 */
struct carry {
	__u8 len;
	__u8 bytes[HTTPTRACE_CARRY_BYTES];
};

/* Accepted sockets of tracked processes, with the bytes they carry; LRU so
 * dead processes age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct socket_key);
	__type(value, struct carry);
} active_sockets SEC(".maps");

/* A read in flight: what the entry saw, for the return to use. */
struct read_args {
	__u64 buf;
	__s32 fd;
	struct carry carry; /* the socket's carry when the read started */
};

/* Reads in flight on tracked sockets, keyed by pid_tgid (one per thread). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct read_args);
} read_args SEC(".maps");

/* Scratch space for building one event: too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct httptrace_event);
} event_scratch SEC(".maps");

/* Events to user space. */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

/* Counters (enum httptrace_stat), summed over CPUs by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HTTPTRACE_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

#endif /* HTTPTRACE_MAPS_H */
