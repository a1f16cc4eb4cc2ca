/* The maps every program shares, one commented block each. */
#ifndef HTTPTRACE_MAPS_H
#define HTTPTRACE_MAPS_H

#include "event.h"

/* Most iovecs of one readv/writev/recvmsg/sendmsg copied as records. */
#define HTTPTRACE_MAX_IOVS 16

/* Processes (tgid) to trace: filled by user space, grown at fork and exec. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} tracked_pids SEC(".maps");

/* Process names (NUL-padded comm) whose exec makes the process tracked. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, char[HTTPTRACE_COMM_LEN]);
	__type(value, __u8);
} tracked_comms SEC(".maps");

/* What the programs know of one TCP connection. */
struct conn {
	__u64 pos[2];                        /* bytes moved so far, per direction */
	__u8 local_addr[HTTPTRACE_ADDR_LEN]; /* network order; IPv4 in the first 4 bytes */
	__u8 peer_addr[HTTPTRACE_ADDR_LEN];
	__u16 local_port;                    /* host order */
	__u16 peer_port;
	__u8 family;
	__u8 flags;                          /* enum httptrace_conn_flags */
	__u8 pad[2];
};

/* Connections of traced processes, keyed by the socket's inode number; LRU so
 * sockets whose close was not seen age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct conn);
} conns SEC(".maps");

/* The key of conn_skips: one direction of one connection. */
struct skip_key {
	__u64 conn;
	__u32 dir;
	__u32 pad;
};

/*
 * Stream positions up to which user space wants no bytes copied (it knows
 * they are body). Apart from conns so that user space writes only this value
 * and never races the programs' position updates.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct skip_key);
	__type(value, __u64);
} conn_skips SEC(".maps");

/* How a syscall hands over its data (struct call.shape). */
enum call_shape {
	SHAPE_BUFFER = 1, /* one buffer: ptr, the byte count is the return value */
	SHAPE_IOVEC,      /* an iovec array: ptr, iovlen entries */
	SHAPE_SENDFILE,   /* file to socket in the kernel: counted, nothing copied */
	SHAPE_CONNECT,    /* not data: a connect whose return makes a connection */
};

/* A syscall in flight on a TCP socket: what its entry saw, for its return. */
struct call {
	__u64 conn;     /* socket inode number (0 for connect: looked up at return) */
	__u64 start_ns;
	__u64 ptr;      /* buffer or iovec array in user memory */
	__u64 iovlen;   /* iovec entries, for SHAPE_IOVEC */
	__s32 fd;
	__u8 shape;     /* enum call_shape */
	__u8 dir;       /* enum httptrace_direction */
	__u8 syscall;   /* enum httptrace_syscall */
	__u8 pad;
};

/* Calls in flight, keyed by pid_tgid (one per thread). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct call);
} calls SEC(".maps");

/* Scratch space for building a data record: too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct httptrace_data);
} scratch SEC(".maps");

/* Records to user space; user space sets the size before load. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Counters (enum httptrace_stat), summed over CPUs by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HTTPTRACE_STAT_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

static __always_inline void stat_inc(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &which);

	if (v)
		*v += 1;
}

/* The calling process (tgid) when it is tracked, else 0. */
static __always_inline __u32 tracked_pid(void)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	return bpf_map_lookup_elem(&tracked_pids, &pid) ? pid : 0;
}

#endif /* HTTPTRACE_MAPS_H */
