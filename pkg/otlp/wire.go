// Spans in OTLP's wire form, appended to a buffer field by field: no
// message is built per span, nothing is allocated when the buffer has
// room, and the batch's request carries the bytes as they are (see
// scopeSpans).
package otlp

import (
	"strings"
	"unicode/utf8"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Field numbers of opentelemetry/proto/trace/v1/trace.proto and
// common/v1/common.proto; TestWireFields checks each against the
// generated messages.
const (
	fieldScopeSpans = 2 // ScopeSpans.spans

	fieldTraceID      = 1 // Span.trace_id
	fieldSpanID       = 2 // Span.span_id
	fieldTraceState   = 3 // Span.trace_state
	fieldParentSpanID = 4 // Span.parent_span_id
	fieldName         = 5 // Span.name
	fieldKind         = 6 // Span.kind
	fieldStart        = 7 // Span.start_time_unix_nano
	fieldEnd          = 8 // Span.end_time_unix_nano
	fieldAttributes   = 9 // Span.attributes
	fieldStatus       = 15
	fieldFlags        = 16

	fieldStatusMessage = 2 // Status.message
	fieldStatusCode    = 3 // Status.code

	fieldKey   = 1 // KeyValue.key
	fieldValue = 2 // KeyValue.value

	fieldString = 1 // AnyValue.string_value
	fieldBool   = 2 // AnyValue.bool_value
	fieldInt    = 3 // AnyValue.int_value
)

// wireFields are the fields above by message and name, for the test.
var wireFields = map[protoreflect.FullName]map[protoreflect.Name]protowire.Number{
	(&tracepb.ScopeSpans{}).ProtoReflect().Descriptor().FullName(): {"spans": fieldScopeSpans},
	(&tracepb.Span{}).ProtoReflect().Descriptor().FullName(): {"trace_id": fieldTraceID, "span_id": fieldSpanID,
		"trace_state": fieldTraceState, "parent_span_id": fieldParentSpanID, "name": fieldName, "kind": fieldKind,
		"start_time_unix_nano": fieldStart, "end_time_unix_nano": fieldEnd, "attributes": fieldAttributes,
		"status": fieldStatus, "flags": fieldFlags},
	(&tracepb.Status{}).ProtoReflect().Descriptor().FullName():    {"message": fieldStatusMessage, "code": fieldStatusCode},
	(&commonpb.KeyValue{}).ProtoReflect().Descriptor().FullName(): {"key": fieldKey, "value": fieldValue},
	(&commonpb.AnyValue{}).ProtoReflect().Descriptor().FullName(): {"string_value": fieldString, "bool_value": fieldBool,
		"int_value": fieldInt},
}

// valid is s as UTF-8: a string field that is not fails the whole
// request at the backend, so a byte that is not becomes U+FFFD.
func valid(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// validBytes is valid for bytes.
func validBytes(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	return []byte(strings.ToValidUTF8(string(b), "\uFFFD"))
}

// varint appends v as a varint: most are lengths under 128, one byte.
func varint(b []byte, v uint64) []byte {
	if v < 0x80 {
		return append(b, byte(v))
	}
	return protowire.AppendVarint(b, v)
}

// tag is a field's tag, one byte for fields 1 to 15.
func tag(num protowire.Number, typ protowire.Type) byte { return byte(num)<<3 | byte(typ) }

// appendString appends field num (1 to 15) as a string.
func appendString(b []byte, num protowire.Number, s string) []byte {
	s = valid(s)
	b = varint(append(b, tag(num, protowire.BytesType)), uint64(len(s)))
	return append(b, s...)
}

// appendBytes appends field num (1 to 15) as bytes.
func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	b = varint(append(b, tag(num, protowire.BytesType)), uint64(len(v)))
	return append(b, v...)
}

// appendStrAttr appends a string attribute of a span; bytes that are not
// UTF-8 become U+FFFD.
func appendStrAttr(b []byte, key, v string) []byte {
	return appendTextAttr(b, key, valid(v))
}

// appendTextAttr appends a string attribute whose value, a string or
// bytes, is valid UTF-8.
func appendTextAttr[T string | []byte](b []byte, key string, v T) []byte {
	b = attrHead(b, key, 1+protowire.SizeBytes(len(v)))
	b = varint(append(b, tag(fieldString, protowire.BytesType)), uint64(len(v)))
	return append(b, v...)
}

// appendIntAttr appends an integer attribute of a span.
func appendIntAttr(b []byte, key string, n int64) []byte {
	b = attrHead(b, key, 1+protowire.SizeVarint(uint64(n)))
	return varint(append(b, tag(fieldInt, protowire.VarintType)), uint64(n))
}

// appendBoolAttr appends a boolean attribute of a span.
func appendBoolAttr(b []byte, key string, v bool) []byte {
	b = attrHead(b, key, 2)
	return append(b, tag(fieldBool, protowire.VarintType), byte(protowire.EncodeBool(v)))
}

// attrHead appends an attribute's KeyValue up to its value's content:
// the attribute's tag and length, its key, its value's tag and length
// (val bytes, to follow). Every tag here is one byte.
func attrHead(b []byte, key string, val int) []byte {
	kv := 1 + protowire.SizeBytes(len(key)) + 1 + protowire.SizeBytes(val)
	b = varint(append(b, tag(fieldAttributes, protowire.BytesType)), uint64(kv))
	b = varint(append(b, tag(fieldKey, protowire.BytesType)), uint64(len(key)))
	b = append(b, key...)
	return varint(append(b, tag(fieldValue, protowire.BytesType)), uint64(val))
}

// appendStatus appends a span's status.
func appendStatus(b []byte, code tracepb.Status_StatusCode, msg string) []byte {
	msg = valid(msg)
	n := protowire.SizeTag(fieldStatusCode) + protowire.SizeVarint(uint64(code))
	if msg != "" {
		n += protowire.SizeTag(fieldStatusMessage) + protowire.SizeBytes(len(msg))
	}
	b = varint(append(b, tag(fieldStatus, protowire.BytesType)), uint64(n))
	if msg != "" {
		b = appendString(b, fieldStatusMessage, msg)
	}
	return varint(append(b, tag(fieldStatusCode, protowire.VarintType)), uint64(code))
}

// appendScopeSpan appends span, one Span's encoding, as one entry of
// ScopeSpans.spans.
func appendScopeSpan(b, span []byte) []byte {
	b = protowire.AppendTag(b, fieldScopeSpans, protowire.BytesType)
	return protowire.AppendBytes(b, span)
}

// scopeSpans is httptrace's ScopeSpans holding spans, a run of entries
// appendScopeSpan made: they are the message's unknown fields, which a
// message marshalled as protobuf carries as they are, and which are its
// spans to whoever decodes it. Protobuf only: encoded as JSON, or read
// by code that walks ScopeSpans.Spans (the SDK's own self-observability
// counts), the message has no spans.
func scopeSpans(spans []byte) *tracepb.ScopeSpans {
	ss := &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: scopeName}}
	ss.ProtoReflect().SetUnknown(protoreflect.RawFields(spans))
	return ss
}
