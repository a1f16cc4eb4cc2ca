/* The maps every program shares, one commented block each. */
#ifndef HTTPTRACE_MAPS_H
#define HTTPTRACE_MAPS_H

#include "event.h"

/* Most bytes one copy of an iovec's part moves (a power of two dividing HTTPTRACE_MAX_CAPTURE_BYTES). */
#define HTTPTRACE_COPY_CHUNK 8192
/* Iovecs send_iovecs reads from user memory at once (a power of two dividing HTTPTRACE_MAX_IOVS). */
#define HTTPTRACE_IOV_BATCH 64

/* Processes (tgid) to trace: filled by user space, grown at fork and exec. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u8);
} tracked_pids SEC(".maps");

/*
 * Selection by TCP port, indexed by port: HTTPTRACE_PORT_SERVER (processes
 * listening on it are tracked; connections whose local port it is are
 * followed) and HTTPTRACE_PORT_CLIENT (connections whose remote port it is
 * are followed). Read only when port_select is set.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} ports SEC(".maps");

/* Process names (NUL-padded comm) whose exec makes the process tracked. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, char[HTTPTRACE_COMM_LEN]);
	__type(value, __u8);
} tracked_comms SEC(".maps");

/*
 * cgroup v2 ids (the selected containers') whose processes are tracked when
 * they fork or exec; looked at only with select_cgroups (set before load).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, __u8);
} tracked_cgroups SEC(".maps");

/* What the programs know of one connection (a TCP or unix stream socket). */
struct conn {
	__u64 pos[2];                        /* stream position after the last bytes accounted, per direction */
	__u32 seq0[2];                       /* the socket's sequence (app_seq) at position 0, per direction */
	__u64 gen;                           /* bpf_ktime_get_ns() when the entry was made: its generation */
	__u64 sk;                            /* the struct sock it was made for: another one is another connection */
	__u8 local_addr[HTTPTRACE_ADDR_LEN]; /* network order; IPv4 in the first 4 bytes */
	__u8 peer_addr[HTTPTRACE_ADDR_LEN];
	__u16 local_port;                    /* host order */
	__u16 peer_port;
	__u8 family;
	__u8 flags;                          /* enum httptrace_conn_flags */
	__u8 anchored[2];                    /* seq0[dir] is known (a byte each: two CPUs may set them at once) */
	__u8 foreign;                        /* the socket's sequence is not the application's bytes: count calls */
	__u8 unselected;                     /* outside the selected ports: its transfers are counted, not sent */
	__u8 muted;                          /* user space found it is not HTTP (HTTPTRACE_SKIP_ALL): counted, not sent */
	__u8 tls;                            /* its bytes are TLS records (bpf/tlswire.h): the plaintext is sent, at tls_pos */
	__u8 h2;                             /* it opened with HTTP/2's client preface: its calls are copied whole (copy.h) */
	__u8 pad[3];
	__u64 tls_pos[2];                    /* TLS plaintext stream position after the last bytes sent, per direction */
};

/* Connections of traced processes, keyed by the socket's inode number; LRU so
 * sockets whose close was not seen age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct conn);
} conns SEC(".maps");

/*
 * The connection id (conns key) of each struct sock in conns, so that the
 * socket's end, which knows only the sock, finds its connection.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u64);
} conn_socks SEC(".maps");

/* The key of fd_conns: one fd of one process. */
struct fd_key {
	__u32 tgid;
	__s32 fd;
};

/* What the programs concluded of the file behind one fd. */
struct fd_conn {
	__u64 file; /* the struct file it was concluded for: a replaced fd misses */
	__u64 ino;  /* its inode number, in case a new file reuses the address */
	__u64 conn; /* connection id, 0: not a traced stream socket */
	__u64 sk;   /* the socket's struct sock, for a connection */
};

/*
 * Verdicts per fd of traced processes, so that the data syscalls on a known
 * fd skip the socket checks. Dropped at close; LRU so that fds replaced
 * without a close (dup2, close-on-exec, close_range) age out.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct fd_key);
	__type(value, struct fd_conn);
} fd_conns SEC(".maps");

/* The key of conn_skips: one direction of a connection. */
struct skip_key {
	__u64 conn;
	__u32 dir;
	__u32 pad;
};

/* A conn_skips value: where copying resumes, for which generation (0: any). */
struct skip_to {
	__u64 pos;
	__u64 gen;
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
	__type(value, struct skip_to);
} conn_skips SEC(".maps");

/*
 * Non-zero once user space has set any skip: until then the programs do not
 * look conn_skips up. User space sets it before its first skip.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} skips_set SEC(".maps");

/* How a syscall hands over its data (struct call.shape); 0: no call in flight. */
enum call_shape {
	SHAPE_BUFFER = 1, /* one buffer: ptr, the byte count is the return value */
	SHAPE_IOVEC,      /* an iovec array: ptr, iovlen entries */
	SHAPE_SENDFILE,   /* file to socket in the kernel: counted, nothing copied */
	SHAPE_CONNECT,    /* not data: a connect whose return makes a connection */
};

/* A syscall of a traced process in flight: what its entry saw, for its return. */
struct call {
	__u64 start_ns;
	__u64 file;     /* the struct file fd named at the entry: a return on another file is dropped */
	__u64 ptr;      /* buffer, iovec array or msghdr in user memory */
	__u64 iovlen;   /* iovec entries, for SHAPE_IOVEC */
	__s32 fd;
	__u8 shape;     /* enum call_shape */
	__u8 dir;       /* enum httptrace_direction */
	__u8 syscall;   /* enum httptrace_syscall */
	__u8 msg;       /* enum call_msg */
};

/* What a read's flags say of its bytes, and the thread's state (struct call.msg). */
enum call_msg {
	CALL_PEEK = 1 << 0,  /* MSG_PEEK or MSG_ERRQUEUE: nothing of the stream consumed */
	CALL_TRUNC = 1 << 1, /* MSG_TRUNC: consumed, never copied to the buffer */
	/*
	 * The thread is inside a probed TLS call (bpf/tls.h): kept across the
	 * syscalls the call makes, so that a syscall outside any looks up no
	 * TLS state. A flag, not a field: struct call is on the stack of the
	 * largest programs.
	 */
	CALL_IN_TLS = 1 << 2,
};

/*
 * Calls of threads of traced processes, keyed by pid_tgid: an entry is
 * written in place at each entry and marked done (shape 0) at the return,
 * and deleted when the thread exits.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct call);
} calls SEC(".maps");

/* How far send_iovecs has got through a transfer's iovecs. */
struct iov_cursor {
	__u64 got; /* bytes copied into the record */
	__u64 seg; /* where iovec i starts in the transfer */
	__u64 off; /* bytes of iovec i passed over */
	__u32 i;
	__u32 failed; /* a copy from user memory failed: copy no more */
	__u32 batch;  /* the first iovec of the batch in scratch.iov */
	__u32 pad;
	__u64 sent; /* bytes of an HTTP/2 call sent in records before this one */
};

/* How far send_h2 has got through an HTTP/2 connection's call. */
struct h2_cursor {
	__u64 done; /* bytes sent */
	__u32 k;    /* the next chunk */
	__u32 pad;
};

/* What a return builds its records from. */
struct scratch {
	struct httptrace_data rec;              /* the data record being built */
	/*
	 * Room after rec.data for the verifier: a chunk of an iovec is copied
	 * to an offset up to the end of data[] (send_iovecs).
	 */
	__u8 spill[HTTPTRACE_COPY_CHUNK];
	struct iovec iov[HTTPTRACE_IOV_BATCH]; /* a batch of a vector transfer's iovecs */
	struct iov_cursor cur;
	struct h2_cursor h2;
};

_Static_assert(sizeof(struct scratch) <= 32768, "per-CPU values are at most 32 KiB");

/* Scratch space for building data records: too large for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct scratch);
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

/*
 * Every process but self_pid (httptrace) is a candidate: client-side port
 * selection with no process selected. Set by user space before load.
 */
const volatile bool trace_all = false;
const volatile __u32 self_pid = 0;
/* Containers are selected (tracked_cgroups is filled). Set before load. */
const volatile bool select_cgroups = false;

/* Whether the current task runs in a selected container's cgroup. */
static __always_inline bool in_selected_cgroup(void)
{
	__u64 cgroup;

	if (!select_cgroups)
		return false;
	cgroup = bpf_get_current_cgroup_id();
	return bpf_map_lookup_elem(&tracked_cgroups, &cgroup) != NULL;
}

/* Whether process tgid is tracked. */
static __always_inline bool tracked(__u32 tgid)
{
	if (trace_all)
		return tgid != self_pid;
	return bpf_map_lookup_elem(&tracked_pids, &tgid) != NULL;
}

/* The calling process (tgid) when it is tracked, else 0. */
static __always_inline __u32 tracked_pid(void)
{
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	return tracked(pid) ? pid : 0;
}

#endif /* HTTPTRACE_MAPS_H */
