// The OTLP setup's receiver: takes what httptrace exports over OTLP
// http/protobuf, as a collector's receiver would, and counts it.
package main

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpSink receives spans and metrics; it decodes each request (as a
// receiver must) and answers success.
type otlpSink struct {
	srv *http.Server
	ln  net.Listener

	mu              sync.Mutex
	spans, requests int64 // spans received; metric requests received (one per service an export)
	err             error // the first request that was not OTLP
}

func startOTLPSink() (*otlpSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("OTLP receiver: %w", err)
	}
	s := &otlpSink{ln: ln}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		var req coltracepb.ExportTraceServiceRequest
		if !s.decode(w, r, &req) {
			return
		}
		n := 0
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				n += len(ss.Spans)
			}
		}
		s.mu.Lock()
		s.spans += int64(n)
		s.mu.Unlock()
		reply(w, &coltracepb.ExportTraceServiceResponse{})
	})
	mux.HandleFunc("POST /v1/metrics", func(w http.ResponseWriter, r *http.Request) {
		var req colmetricpb.ExportMetricsServiceRequest
		if !s.decode(w, r, &req) {
			return
		}
		s.mu.Lock()
		s.requests++
		s.mu.Unlock()
		reply(w, &colmetricpb.ExportMetricsServiceResponse{})
	})
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// endpoint is the base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it.
func (s *otlpSink) endpoint() string { return "http://" + s.ln.Addr().String() }

// decode reads r's body into m; a request that is not OTLP is answered
// 400 and kept as the sink's error.
func (s *otlpSink) decode(w http.ResponseWriter, r *http.Request, m proto.Message) bool {
	var body []byte
	var err error
	if r.Header.Get("Content-Encoding") == "gzip" { // OTEL_EXPORTER_OTLP_COMPRESSION=gzip
		var z *gzip.Reader
		if z, err = gzip.NewReader(r.Body); err == nil {
			body, err = io.ReadAll(z)
		}
	} else {
		body, err = io.ReadAll(r.Body)
	}
	if err == nil {
		err = proto.Unmarshal(body, m)
	}
	if err != nil {
		s.mu.Lock()
		if s.err == nil {
			s.err = fmt.Errorf("%s: %w", r.URL.Path, err)
		}
		s.mu.Unlock()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func reply(w http.ResponseWriter, m proto.Message) {
	b, _ := proto.Marshal(m)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(b)
}

// stop stops receiving and returns the counts; a request that was not
// OTLP, or a run that exported no metrics, is an error.
func (s *otlpSink) stop() (spans, requests int64, err error) {
	s.srv.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.spans, s.requests, s.err
	}
	if s.requests == 0 {
		return s.spans, s.requests, errors.New("OTLP receiver: no metrics were exported")
	}
	return s.spans, s.requests, nil
}
