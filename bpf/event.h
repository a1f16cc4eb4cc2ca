/* The wire format between the BPF programs and user space: the one definition of it. */
#ifndef HTTPTRACE_EVENT_H
#define HTTPTRACE_EVENT_H

/*
 * Plain fixed-width types only, so that this header builds both against
 * vmlinux.h (BPF side) and against <linux/types.h> (user space, for the
 * layout check). Every field is naturally aligned and padding is explicit.
 * Records are variable-length ring buffer records; each starts with a __u32
 * kind (enum httptrace_record_kind).
 */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Largest capture of one syscall's data the programs can be configured for. */
#define HTTPTRACE_MAX_CAPTURE_BYTES 16384
#define HTTPTRACE_COMM_LEN 16
/*
 * Most iovecs of one readv/writev/recvmsg/sendmsg (the kernel's UIO_MAXIOV:
 * it refuses more). All are walked when their bytes are copied: servers and
 * caches write a header section as dozens or hundreds of small iovecs.
 */
#define HTTPTRACE_MAX_IOVS 1024
/* Most iovecs whose bytes are copied on kernels without bpf_loop (before 5.17); the rest are counted as iov_cut. */
#define HTTPTRACE_LEGACY_MAX_IOVS 64
#define HTTPTRACE_ADDR_LEN 16

/* Bits of a ports map entry (bpf/maps.h): which side of a connection the port selects. */
#define HTTPTRACE_PORT_SERVER 1
#define HTTPTRACE_PORT_CLIENT 2

/*
 * A conn_skips position (bpf/maps.h) that mutes a connection: user space
 * found it is not HTTP, so its transfers are counted (not_http) and no
 * record of them is sent.
 */
#define HTTPTRACE_SKIP_ALL 0xffffffffffffffffULL

/*
 * The format's version, carried by every data record: user space refuses
 * records of another version rather than misread them.
 */
#define HTTPTRACE_FORMAT_VERSION 3

/* What a record is. */
enum httptrace_record_kind {
	HTTPTRACE_REC_DATA = 1,  /* struct httptrace_data: bytes moved on a connection */
	HTTPTRACE_REC_CLOSE = 2, /* struct httptrace_close: a connection's socket closed */
	HTTPTRACE_REC_PROC = 3,  /* struct httptrace_proc: a traced process forked, exec'd or exited */
};

/* The direction of a data record, seen from the traced process. */
enum httptrace_direction {
	HTTPTRACE_DIR_RECV = 0, /* the process read the bytes from the socket */
	HTTPTRACE_DIR_SEND = 1, /* the process wrote the bytes to the socket */
};

/* The syscall that moved the bytes of a data record. */
enum httptrace_syscall {
	HTTPTRACE_SYS_READ = 1,
	HTTPTRACE_SYS_READV,
	HTTPTRACE_SYS_RECVFROM,
	HTTPTRACE_SYS_RECVMSG,
	HTTPTRACE_SYS_RECVMMSG,
	HTTPTRACE_SYS_WRITE,
	HTTPTRACE_SYS_WRITEV,
	HTTPTRACE_SYS_SENDTO,
	HTTPTRACE_SYS_SENDMSG,
	HTTPTRACE_SYS_SENDMMSG,
	HTTPTRACE_SYS_SENDFILE,
	HTTPTRACE_SYS_TLS_READ,  /* a TLS library's read (SSL_read, SSL_read_ex) */
	HTTPTRACE_SYS_TLS_WRITE, /* a TLS library's write (SSL_write, SSL_write_ex) */
	HTTPTRACE_SYS_COUNT,
};

/* Where a data record's bytes were taken: each source has its own stream positions. */
enum httptrace_source {
	HTTPTRACE_SRC_SYSCALL = 1, /* the socket's bytes, at a socket syscall */
	HTTPTRACE_SRC_TLS = 2,     /* a TLS connection's plaintext, at a TLS library's read or write */
};

/* Connection flags carried by each data record (struct httptrace_data.flags). */
enum httptrace_conn_flags {
	/* First seen on a read or write, not at an accept or connect httptrace saw. */
	HTTPTRACE_CONN_ADOPTED = 1 << 0,
	/* Seen at an accept return (the traced process is the server side). */
	HTTPTRACE_CONN_ACCEPTED = 1 << 1,
	/* Seen at a connect (the traced process is the client side). */
	HTTPTRACE_CONN_CONNECTED = 1 << 2,
	/* Its bytes on the socket are TLS records; the record's are the plaintext. */
	HTTPTRACE_CONN_TLS = 1 << 3,
};

/*
 * Bytes a syscall moved on a stream socket (TCP, or unix) of a traced process. data[] holds
 * captured_bytes bytes, which start captured_off bytes after pos (the part
 * before them, and the part after, was moved but not copied).
 *
 * Positions are the socket's own: pos is where the socket's byte count
 * says the syscall's bytes started. unseen_bytes bytes before pos moved on
 * the socket without any record (splice, io_uring, a syscall not hooked):
 * user space passes them on as moved but not captured.
 */
struct httptrace_data {
	__u32 kind;           /* HTTPTRACE_REC_DATA */
	__u32 pid;            /* process (tgid) */
	__u32 tid;            /* thread */
	__s32 fd;             /* the socket's fd in that process */
	__u64 start_ns;       /* bpf_ktime_get_ns() at the syscall's entry */
	__u64 end_ns;         /* bpf_ktime_get_ns() at its return */
	__u64 conn;           /* connection id: the socket's inode number */
	__u64 pos;            /* offset of the first byte in this direction's stream */
	__u32 bytes;          /* bytes the syscall moved (its return value) */
	__u32 captured_bytes; /* bytes in data[] */
	__u32 captured_off;   /* offset of data[0] from pos */
	__u8 dir;             /* enum httptrace_direction */
	__u8 syscall;         /* enum httptrace_syscall */
	__u8 family;          /* AF_INET, AF_INET6 or AF_UNIX */
	__u8 flags;           /* enum httptrace_conn_flags */
	__u16 local_port;     /* host byte order */
	__u16 peer_port;      /* host byte order */
	__u8 source;          /* enum httptrace_source */
	__u8 version;         /* HTTPTRACE_FORMAT_VERSION */
	__u16 part;           /* 0: a call's first record; k: its k-th continuation (an HTTP/2 call sent whole, copy.h) */
	__u64 gen;            /* the connection's generation: when the programs first saw it (ns) */
	__u64 unseen_bytes;   /* bytes moved just before pos that no record carries */
	__u64 cgroup_id;      /* the process's cgroup (v2) id */
	/*
	 * Network order, IPv4 in the first 4 bytes. AF_UNIX, host order: the
	 * socket's inode number and its path's hash in local_addr[0..8] and
	 * [8..12]; its peer's inode number, process (SO_PEERCRED) and path's
	 * hash in peer_addr[0..8], [8..12] and [12..16].
	 */
	__u8 local_addr[HTTPTRACE_ADDR_LEN];
	__u8 peer_addr[HTTPTRACE_ADDR_LEN];
	char comm[HTTPTRACE_COMM_LEN];
	__u8 data[HTTPTRACE_MAX_CAPTURE_BYTES]; /* only captured_bytes are sent */
};

/*
 * The end of a connection: the last close of its socket by a traced
 * process (pid, tid and fd are the closer's), or the socket's end found
 * where no close(2) was seen (pid 0, fd -1).
 */
struct httptrace_close {
	__u32 kind; /* HTTPTRACE_REC_CLOSE */
	__u32 pid;
	__u32 tid;
	__s32 fd;
	__u64 timestamp_ns;
	__u64 conn;
	__u64 gen; /* the connection's generation (struct httptrace_data.gen) */
	/*
	 * Per direction, the stream position after the last byte the
	 * application moved, as the socket counts it (0: not known): the bytes
	 * between the last record and it moved unseen.
	 */
	__u64 end_pos[2];
};

/* What happened to a traced process. */
enum httptrace_proc_op {
	HTTPTRACE_PROC_FORK = 1, /* pid is a new child of ppid, now traced */
	HTTPTRACE_PROC_EXEC = 2, /* pid exec'd comm (and is traced, by comm or before) */
	HTTPTRACE_PROC_EXIT = 3, /* pid (the whole process) exited and is no longer traced */
	HTTPTRACE_PROC_LISTEN = 4, /* pid began to listen on a selected port, and is traced */
	HTTPTRACE_PROC_TLS_MAP = 5, /* pid mapped a TLS library (libssl) executable: probe it */
};

/* A process event of a traced process. */
struct httptrace_proc {
	__u32 kind; /* HTTPTRACE_REC_PROC */
	__u32 op;   /* enum httptrace_proc_op */
	__u32 pid;  /* process (tgid) */
	__u32 ppid; /* parent process (tgid), for fork */
	__u64 timestamp_ns;
	char comm[HTTPTRACE_COMM_LEN];
};

/*
 * Counters of the stats map (a per-CPU array indexed by this enum), summed
 * over CPUs by user space. pkg/event/stats.go mirrors it; a test compares.
 */
enum httptrace_stat {
	HTTPTRACE_STAT_CALLS = 0,          /* data syscalls of a traced process that moved bytes on a traced stream socket */
	HTTPTRACE_STAT_RETURNS_MISSED,     /* an entry found its thread's previous call never returned */
	HTTPTRACE_STAT_CONNS_ADOPTED,      /* connections first seen on data, after bytes httptrace did not see */
	HTTPTRACE_STAT_CONNS_ACCEPTED,     /* connections seen at an accept return */
	HTTPTRACE_STAT_CONNS_CONNECTED,    /* connections seen at a connect return */
	HTTPTRACE_STAT_CONNS_CLOSED,       /* last closes of a known connection (close records) */
	HTTPTRACE_STAT_CONNS_LOST,         /* a return found no conns entry and could not make one: its bytes are not counted */
	HTTPTRACE_STAT_RECORDS_SENT,       /* records written to the ring buffer */
	HTTPTRACE_STAT_RECORDS_DROPPED,    /* records the ring buffer had no room for */
	HTTPTRACE_STAT_READ_USER_FAILED,   /* copies from user memory that failed (record sent uncaptured) */
	HTTPTRACE_STAT_IOV_CUT,            /* vector transfers with more iovecs than copied: the rest sent uncaptured */
	HTTPTRACE_STAT_SKIPS,              /* records that left out bytes user space marked to skip (skip_to) */
	HTTPTRACE_STAT_PROCS_TRACKED,      /* processes tracked at a fork or exec */
	HTTPTRACE_STAT_PROCS_EXITED,       /* tracked processes that exited */
	HTTPTRACE_STAT_TRACK_FAILED,       /* processes not tracked because tracked_pids was full */
	HTTPTRACE_STAT_CONNS_FROM_START,   /* connections first seen on data, at the stream's first bytes */
	HTTPTRACE_STAT_CALLS_NOT_SAVED,    /* syscall entries the calls map had no room for: their returns go unseen */
	HTTPTRACE_STAT_PEEKS,              /* reads with MSG_PEEK or MSG_ERRQUEUE: nothing of the stream consumed, nothing sent */
	HTTPTRACE_STAT_UNSEEN,             /* records that found bytes the socket moved unseen before them (unseen_bytes) */
	HTTPTRACE_STAT_POS_BEHIND,         /* returns whose socket count moved less than the call since the last record (racing calls): placed where the socket says */
	HTTPTRACE_STAT_CONNS_REPLACED,     /* conns entries found for another socket with the same inode: made anew */
	HTTPTRACE_STAT_CONNS_ENDED,        /* connections whose socket ended with no close(2) seen (close_range, dup2, exit, exec): close records */
	HTTPTRACE_STAT_FD_REPLACED,        /* returns whose fd named another file than at the entry: not sent */
	HTTPTRACE_STAT_NOT_HTTP,           /* transfers on connections user space found are not HTTP (HTTPTRACE_SKIP_ALL): counted, not sent */
	HTTPTRACE_STAT_CONNS_UNSELECTED,   /* connections of traced processes outside the selected ports */
	HTTPTRACE_STAT_UNSELECTED,         /* transfers on those connections: counted, not sent */
	HTTPTRACE_STAT_PORT_LISTENERS,     /* processes tracked because they began to listen on a selected port */
	HTTPTRACE_STAT_TLS_CONNS,          /* connections found to be TLS (bpf/tlswire.h) */
	HTTPTRACE_STAT_TLS_CIPHERTEXT,     /* syscall transfers of TLS records on those: counted, not sent */
	HTTPTRACE_STAT_TLS_CALLS,          /* TLS library reads and writes that moved plaintext on a known connection */
	HTTPTRACE_STAT_TLS_UNPLACED,       /* such calls whose connection was not known (no syscall nested, object not seen before): not sent */
	HTTPTRACE_STAT_TLS_MAPPED,         /* a traced process mapped a TLS library (user space probes it) */
	HTTPTRACE_STAT_H2_CUT,             /* calls of HTTP/2 connections not copied whole (past 128 KiB; legacy object: vector calls past capture_bytes) */
	HTTPTRACE_STAT_TLS_WRITE_FAILED,   /* Go TLS writes, sent at their entry, that returned fewer bytes written: the rest never left */
	HTTPTRACE_STAT_TLS_RETURNS_UNSAVED, /* Go TLS Read returns of traced processes that found no call of their own saved (in flight at attach, evicted, or after a panic) */
	HTTPTRACE_STAT_COUNT,
};

#endif /* HTTPTRACE_EVENT_H */
