package otlp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/httptrace/httptrace/pkg/output"
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

// TestProtobufOverJSONVariable: with http/protobuf configured and
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/json in the environment, the
// SDK's client still sends protobuf, which carries the spans (as JSON it
// would send scopes with no spans, and the backend would take them).
func TestProtobufOverJSONVariable(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json")
	var mu sync.Mutex
	var types []string
	spans := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := &coltracepb.ExportTraceServiceRequest{}
		err := proto.Unmarshal(body, req)
		mu.Lock()
		types = append(types, r.Header.Get("Content-Type"))
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				spans += len(ss.Spans)
			}
		}
		mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Write(b)
	}))
	defer srv.Close()
	x, err := New(Options{Endpoint: srv.URL, Protocol: ProtocolHTTP, Clock: output.NewClock(0), Log: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		x.Write(plain)
	}
	if err := x.Close(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if st := x.Stats(); st.Exported != 3 || spans != 3 || len(types) == 0 || types[0] != "application/x-protobuf" {
		t.Errorf("stats %+v, the receiver decoded %d spans from requests of type %v: want 3 spans, protobuf", st, spans, types)
	}
}
