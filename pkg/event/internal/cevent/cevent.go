// Package cevent exposes the C layout of bpf/event.h to Go tests, so the Go
// mirror in package event is checked against the one definition.
package cevent

/*
#cgo CFLAGS: -I${SRCDIR}/../../../../bpf
#include <stddef.h>
#include "event.h"

struct field { const char *rec, *name; size_t off, size; };
#define F(s, f) {#s, #f, offsetof(struct s, f), sizeof(((struct s *)0)->f)}
static const struct field fields[] = {
	F(httptrace_data, kind), F(httptrace_data, pid), F(httptrace_data, tid), F(httptrace_data, fd),
	F(httptrace_data, start_ns), F(httptrace_data, end_ns), F(httptrace_data, conn), F(httptrace_data, pos),
	F(httptrace_data, bytes), F(httptrace_data, captured_bytes), F(httptrace_data, captured_off),
	F(httptrace_data, dir), F(httptrace_data, syscall), F(httptrace_data, family), F(httptrace_data, flags),
	F(httptrace_data, local_port), F(httptrace_data, peer_port), F(httptrace_data, source),
	F(httptrace_data, version), F(httptrace_data, part), F(httptrace_data, gen), F(httptrace_data, unseen_bytes),
	F(httptrace_data, cgroup_id),
	F(httptrace_data, local_addr), F(httptrace_data, peer_addr), F(httptrace_data, comm), F(httptrace_data, data),
	F(httptrace_close, kind), F(httptrace_close, pid), F(httptrace_close, tid), F(httptrace_close, fd),
	F(httptrace_close, timestamp_ns), F(httptrace_close, conn), F(httptrace_close, gen),
	F(httptrace_close, end_pos),
	F(httptrace_proc, kind), F(httptrace_proc, op), F(httptrace_proc, pid), F(httptrace_proc, ppid),
	F(httptrace_proc, timestamp_ns), F(httptrace_proc, comm),
};
static size_t field_count(void) { return sizeof(fields) / sizeof(fields[0]); }
static const struct field *field_at(size_t i) { return &fields[i]; }

struct constant { const char *name; long long value; };
#define C(n) {#n, n}
static const struct constant constants[] = {
	C(HTTPTRACE_MAX_CAPTURE_BYTES), C(HTTPTRACE_COMM_LEN), C(HTTPTRACE_ADDR_LEN), C(HTTPTRACE_MAX_IOVS), C(HTTPTRACE_LEGACY_MAX_IOVS), C(HTTPTRACE_SKIP_ALL),
	C(HTTPTRACE_REC_DATA), C(HTTPTRACE_REC_CLOSE), C(HTTPTRACE_REC_PROC),
	C(HTTPTRACE_DIR_RECV), C(HTTPTRACE_DIR_SEND),
	C(HTTPTRACE_SYS_READ), C(HTTPTRACE_SYS_READV), C(HTTPTRACE_SYS_RECVFROM), C(HTTPTRACE_SYS_RECVMSG),
	C(HTTPTRACE_SYS_RECVMMSG), C(HTTPTRACE_SYS_WRITE), C(HTTPTRACE_SYS_WRITEV), C(HTTPTRACE_SYS_SENDTO),
	C(HTTPTRACE_SYS_SENDMSG), C(HTTPTRACE_SYS_SENDMMSG), C(HTTPTRACE_SYS_SENDFILE), C(HTTPTRACE_SYS_TLS_READ), C(HTTPTRACE_SYS_TLS_WRITE), C(HTTPTRACE_SYS_COUNT),
	C(HTTPTRACE_CONN_ADOPTED), C(HTTPTRACE_CONN_ACCEPTED), C(HTTPTRACE_CONN_CONNECTED), C(HTTPTRACE_CONN_TLS),
	C(HTTPTRACE_PROC_FORK), C(HTTPTRACE_PROC_EXEC), C(HTTPTRACE_PROC_EXIT), C(HTTPTRACE_PROC_LISTEN), C(HTTPTRACE_PROC_TLS_MAP), C(HTTPTRACE_PORT_SERVER), C(HTTPTRACE_PORT_CLIENT),
	C(HTTPTRACE_STAT_COUNT), C(HTTPTRACE_FORMAT_VERSION), C(HTTPTRACE_SRC_SYSCALL), C(HTTPTRACE_SRC_TLS),
};
static size_t constant_count(void) { return sizeof(constants) / sizeof(constants[0]); }
static const struct constant *constant_at(size_t i) { return &constants[i]; }

static const struct { const char *name; unsigned value; } stats[] = {
	{"calls", HTTPTRACE_STAT_CALLS},
	{"returns_missed", HTTPTRACE_STAT_RETURNS_MISSED},
	{"conns_adopted", HTTPTRACE_STAT_CONNS_ADOPTED},
	{"conns_accepted", HTTPTRACE_STAT_CONNS_ACCEPTED},
	{"conns_connected", HTTPTRACE_STAT_CONNS_CONNECTED},
	{"conns_closed", HTTPTRACE_STAT_CONNS_CLOSED},
	{"conns_lost", HTTPTRACE_STAT_CONNS_LOST},
	{"records_sent", HTTPTRACE_STAT_RECORDS_SENT},
	{"records_dropped", HTTPTRACE_STAT_RECORDS_DROPPED},
	{"read_user_failed", HTTPTRACE_STAT_READ_USER_FAILED},
	{"iov_cut", HTTPTRACE_STAT_IOV_CUT},
	{"skips", HTTPTRACE_STAT_SKIPS},
	{"procs_tracked", HTTPTRACE_STAT_PROCS_TRACKED},
	{"procs_exited", HTTPTRACE_STAT_PROCS_EXITED},
	{"track_failed", HTTPTRACE_STAT_TRACK_FAILED},
	{"conns_from_start", HTTPTRACE_STAT_CONNS_FROM_START},
	{"calls_not_saved", HTTPTRACE_STAT_CALLS_NOT_SAVED},
	{"peeks", HTTPTRACE_STAT_PEEKS},
	{"unseen", HTTPTRACE_STAT_UNSEEN},
	{"pos_behind", HTTPTRACE_STAT_POS_BEHIND},
	{"conns_replaced", HTTPTRACE_STAT_CONNS_REPLACED},
	{"conns_ended", HTTPTRACE_STAT_CONNS_ENDED},
	{"fd_replaced", HTTPTRACE_STAT_FD_REPLACED},
	{"not_http", HTTPTRACE_STAT_NOT_HTTP},
	{"conns_unselected", HTTPTRACE_STAT_CONNS_UNSELECTED},
	{"unselected", HTTPTRACE_STAT_UNSELECTED},
	{"port_listeners", HTTPTRACE_STAT_PORT_LISTENERS},
	{"tls_conns", HTTPTRACE_STAT_TLS_CONNS},
	{"tls_ciphertext", HTTPTRACE_STAT_TLS_CIPHERTEXT},
	{"tls_calls", HTTPTRACE_STAT_TLS_CALLS},
	{"tls_unplaced", HTTPTRACE_STAT_TLS_UNPLACED},
	{"tls_mapped", HTTPTRACE_STAT_TLS_MAPPED},
	{"h2_cut", HTTPTRACE_STAT_H2_CUT},
	{"tls_write_failed", HTTPTRACE_STAT_TLS_WRITE_FAILED},
	{"tls_returns_unsaved", HTTPTRACE_STAT_TLS_RETURNS_UNSAVED},
};
static size_t stat_count(void) { return sizeof(stats) / sizeof(stats[0]); }
static const char *stat_name(size_t i) { return stats[i].name; }
static unsigned stat_value(size_t i) { return stats[i].value; }
*/
import "C"

// Field is one member of a record struct.
type Field struct {
	Name         string
	Offset, Size uintptr
}

// Fields lists each record struct's members in declaration order, keyed by
// struct name (httptrace_data, httptrace_close, httptrace_proc).
func Fields() map[string][]Field {
	out := map[string][]Field{}
	for i := C.size_t(0); i < C.field_count(); i++ {
		f := C.field_at(i)
		rec := C.GoString(f.rec)
		out[rec] = append(out[rec], Field{Name: C.GoString(f.name), Offset: uintptr(f.off), Size: uintptr(f.size)})
	}
	return out
}

// Sizes are the record structs' sizes.
var Sizes = map[string]uintptr{
	"httptrace_data":  C.sizeof_struct_httptrace_data,
	"httptrace_close": C.sizeof_struct_httptrace_close,
	"httptrace_proc":  C.sizeof_struct_httptrace_proc,
}

// Constants maps each enum value and macro of event.h to its value.
func Constants() map[string]int64 {
	out := map[string]int64{}
	for i := C.size_t(0); i < C.constant_count(); i++ {
		c := C.constant_at(i)
		out[C.GoString(c.name)] = int64(c.value)
	}
	return out
}

// Stats maps each counter's name to its value in enum httptrace_stat.
func Stats() map[string]uint32 {
	out := map[string]uint32{}
	for i := C.size_t(0); i < C.stat_count(); i++ {
		out[C.GoString(C.stat_name(i))] = uint32(C.stat_value(i))
	}
	return out
}
