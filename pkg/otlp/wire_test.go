package otlp

import (
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/httptrace/httptrace/pkg/record"
)

// TestWireFields: every field number the encoder writes is the field of
// that name in OTLP's generated messages.
func TestWireFields(t *testing.T) {
	for msg, fields := range wireFields {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(msg)
		if err != nil {
			t.Fatalf("%s: %v", msg, err)
		}
		md := d.(protoreflect.MessageDescriptor)
		for name, num := range fields {
			f := md.Fields().ByName(name)
			if f == nil {
				t.Errorf("%s has no field %s", msg, name)
				continue
			}
			if f.Number() != num {
				t.Errorf("%s.%s is field %d, the encoder writes %d", msg, name, f.Number(), num)
			}
		}
	}
}

// TestInvalidUTF8: bytes that are not UTF-8, in a path, a header or a
// gRPC message, reach the backend as U+FFFD: a string field that is not
// UTF-8 would fail the whole batch's request.
func TestInvalidUTF8(t *testing.T) {
	bad := "/caf\xe9/\xff"
	e := &record.Exchange{Comm: "app\xfe", Side: record.Client, Server: "10.0.0.2:80", Method: "GET", Path: bad + "?q=\xc3",
		Headers: []record.Header{{Name: "User-Agent", Value: "ua\x80"}}, Status: 200, GRPCService: "s\xff", GRPCMethod: "m",
		GRPCStatusSet: true, GRPCStatus: 2, GRPCMessage: "oops\xff", RequestStartNs: 1, ResponseEndNs: 2}
	got := export(t, e)
	if len(got) != 1 {
		t.Fatalf("%d spans, want 1", len(got))
	}
	s := got[0].span
	a := attrMap(s)
	for _, k := range []string{"url.path", "url.query", "user_agent.original", "rpc.service", "process.executable.name", "url.full"} {
		if !utf8.ValidString(a[k]) || !strings.Contains(a[k], "\uFFFD") {
			t.Errorf("%s = %q, want valid UTF-8 with U+FFFD", k, a[k])
		}
	}
	if s.Status == nil || s.Status.Message != "oops\uFFFD" || !utf8.ValidString(s.Name) {
		t.Errorf("status %v name %q", s.Status, s.Name)
	}
}

// TestLongValues: an attribute, a name or a span longer than a varint's
// one byte (127) keeps every byte.
func TestLongValues(t *testing.T) {
	long := "/" + strings.Repeat("a", 20000)
	ua := strings.Repeat("u", 300)
	e := &record.Exchange{Comm: "app", Side: record.Server, Method: "GET", Path: long,
		Headers: []record.Header{{Name: "User-Agent", Value: ua}}, Status: 200, RequestStartNs: 1, ResponseEndNs: 2}
	got := export(t, e, plain)
	if len(got) != 2 {
		t.Fatalf("%d spans, want 2", len(got))
	}
	a := attrMap(got[0].span)
	if a["url.path"] != long || a["user_agent.original"] != ua || a["http.response.status_code"] != "200" {
		t.Errorf("url.path %d bytes, user agent %d: want %d and %d", len(a["url.path"]), len(a["user_agent.original"]), len(long), len(ua))
	}
	if attrMap(got[1].span)["url.path"] != "/" {
		t.Errorf("the span after a long one: %v", attrMap(got[1].span))
	}
}
