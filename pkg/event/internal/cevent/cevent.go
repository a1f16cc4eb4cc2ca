// Package cevent exposes the C layout of bpf/event.h to Go tests, so the Go
// mirror in package event is checked against the one definition.
package cevent

/*
#cgo CFLAGS: -I${SRCDIR}/../../../../bpf
#include <stddef.h>
#include "event.h"

static const size_t field_offsets[] = {
	offsetof(struct httptrace_event, timestamp_ns),
	offsetof(struct httptrace_event, pid),
	offsetof(struct httptrace_event, tid),
	offsetof(struct httptrace_event, fd),
	offsetof(struct httptrace_event, kind),
	offsetof(struct httptrace_event, read_bytes),
	offsetof(struct httptrace_event, captured_bytes),
	offsetof(struct httptrace_event, comm),
	offsetof(struct httptrace_event, data),
};
static const char *field_names[] = {
	"timestamp_ns", "pid", "tid", "fd", "kind", "read_bytes", "captured_bytes", "comm", "data",
};
static const struct { const char *name; unsigned value; } stats[] = {
	{"sockets_tracked", HTTPTRACE_STAT_SOCKETS_TRACKED},
	{"sockets_closed", HTTPTRACE_STAT_SOCKETS_CLOSED},
	{"reads", HTTPTRACE_STAT_READS},
	{"read_returns", HTTPTRACE_STAT_READ_RETURNS},
	{"returns_missed", HTTPTRACE_STAT_RETURNS_MISSED},
	{"not_http", HTTPTRACE_STAT_NOT_HTTP},
	{"read_user_failed", HTTPTRACE_STAT_READ_USER_FAILED},
	{"events_sent", HTTPTRACE_STAT_EVENTS_SENT},
	{"events_dropped", HTTPTRACE_STAT_EVENTS_DROPPED},
};
static size_t stat_count(void) { return sizeof(stats) / sizeof(stats[0]); }
static const char *stat_name(size_t i) { return stats[i].name; }
static unsigned stat_value(size_t i) { return stats[i].value; }
static size_t field_count(void) { return sizeof(field_offsets) / sizeof(field_offsets[0]); }
static size_t field_offset(size_t i) { return field_offsets[i]; }
static const char *field_name(size_t i) { return field_names[i]; }
*/
import "C"

// Field is one member of struct httptrace_event.
type Field struct {
	Name   string
	Offset uintptr
}

// Fields lists the struct's members in declaration order.
func Fields() []Field {
	n := int(C.field_count())
	out := make([]Field, n)
	for i := 0; i < n; i++ {
		out[i] = Field{Name: C.GoString(C.field_name(C.size_t(i))), Offset: uintptr(C.field_offset(C.size_t(i)))}
	}
	return out
}

// Size is sizeof(struct httptrace_event).
const Size = C.sizeof_struct_httptrace_event

// MaxCaptureBytes is HTTPTRACE_MAX_CAPTURE_BYTES.
const MaxCaptureBytes = C.HTTPTRACE_MAX_CAPTURE_BYTES

// CommLen is HTTPTRACE_COMM_LEN.
const CommLen = C.HTTPTRACE_COMM_LEN

// KindRequest is HTTPTRACE_EVENT_REQUEST.
const KindRequest = C.HTTPTRACE_EVENT_REQUEST

// StatCount is HTTPTRACE_STAT_COUNT.
const StatCount = C.HTTPTRACE_STAT_COUNT

// Stats maps each counter's name to its value in enum httptrace_stat.
func Stats() map[string]uint32 {
	out := map[string]uint32{}
	for i := C.size_t(0); i < C.stat_count(); i++ {
		out[C.GoString(C.stat_name(i))] = uint32(C.stat_value(i))
	}
	return out
}
