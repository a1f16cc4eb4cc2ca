package main

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strings"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// TestOTLPSink: the receiver counts the spans of each request and the
// metric exports; a body that is not OTLP is answered 400 and an error,
// and so is a run that exported no metrics.
func TestOTLPSink(t *testing.T) {
	post := func(s *otlpSink, path string, m proto.Message, want int) {
		t.Helper()
		b, _ := proto.Marshal(m)
		if m == nil {
			b = []byte("\xff\xff not protobuf")
		}
		resp, err := http.Post(s.endpoint()+path, "application/x-protobuf", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("POST %s: %s, want %d", path, resp.Status, want)
		}
	}
	s, err := startOTLPSink()
	if err != nil {
		t.Fatal(err)
	}
	spans := func(n int) *coltracepb.ExportTraceServiceRequest {
		ss := &tracepb.ScopeSpans{}
		for range n {
			ss.Spans = append(ss.Spans, &tracepb.Span{Name: "GET /"})
		}
		return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{ScopeSpans: []*tracepb.ScopeSpans{ss}}}}
	}
	post(s, "/v1/traces", spans(3), 200)
	post(s, "/v1/traces", spans(2), 200)
	post(s, "/v1/metrics", &colmetricpb.ExportMetricsServiceRequest{}, 200)
	// gzip, as OTEL_EXPORTER_OTLP_COMPRESSION=gzip sends it.
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	b, _ := proto.Marshal(spans(4))
	zw.Write(b)
	zw.Close()
	req, _ := http.NewRequest("POST", s.endpoint()+"/v1/traces", &z)
	req.Header.Set("Content-Encoding", "gzip")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("gzip: %v %v", resp, err)
	}
	if n, m, err := s.stop(); n != 9 || m != 1 || err != nil {
		t.Errorf("stop: %d spans, %d metric requests, %v; want 9, 1, nil", n, m, err)
	}

	s, _ = startOTLPSink()
	post(s, "/v1/traces", nil, 400)
	if _, _, err := s.stop(); err == nil || !strings.Contains(err.Error(), "/v1/traces") {
		t.Errorf("stop after a bad request: %v", err)
	}
	s, _ = startOTLPSink()
	if _, _, err := s.stop(); err == nil {
		t.Error("stop with no metrics exported: no error")
	}
}
