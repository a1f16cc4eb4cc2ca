package otlp

import (
	"context"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/httptrace/httptrace/pkg/output"
	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/route"
)

// discard takes every batch and keeps nothing; it marshals each, as a
// real client does.
type discard struct{}

func (discard) Start(context.Context) error { return nil }
func (discard) Stop(context.Context) error  { return nil }
func (discard) UploadTraces(_ context.Context, rs []*tracepb.ResourceSpans) error {
	_, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: rs})
	return err
}

// BenchmarkExport is the CPU of one exchange's span, from Write to its
// batch's marshalling (the network not): the pipeline's share and the
// worker's.
func BenchmarkExport(b *testing.B) {
	router, err := route.NewRouter(nil)
	if err != nil {
		b.Fatal(err)
	}
	x, err := New(Options{Router: router, Clock: output.NewClock(0), Log: quiet(), client: discard{}, Queue: 1 << 16})
	if err != nil {
		b.Fatal(err)
	}
	e := &record.Exchange{PID: 7, Comm: "nginx", Side: record.Server, Client: "10.0.0.9:51000", Server: "10.0.0.1:8080",
		Method: "GET", Path: "/users/42?x=1", Proto: "HTTP/1.1",
		Headers:        []record.Header{{Name: "Host", Value: "shop.example"}, {Name: "User-Agent", Value: "wrk"}, {Name: "Accept", Value: "*/*"}},
		RequestStartNs: 1, RequestEndNs: 2, ResponseStartNs: 3, ResponseEndNs: 4, Status: 200, ResponseBodyBytes: 612}
	b.ReportAllocs()
	for b.Loop() {
		for x.waiting() > x.opts.Queue/2 {
			time.Sleep(time.Millisecond) // the worker's pace, not drops
		}
		x.Write(e)
	}
	if err := x.Close(time.Minute); err != nil {
		b.Fatal(err)
	}
	if st := x.Stats(); st.Dropped != 0 {
		b.Fatalf("%d dropped", st.Dropped)
	}
}
