package pipeline

import (
	"encoding/binary"
	"io"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/exchange"
	"github.com/httptrace/httptrace/pkg/output"
	"github.com/httptrace/httptrace/pkg/record"
	"github.com/httptrace/httptrace/pkg/redact"
)

// A keep-alive exchange as curl sends it to nginx and nginx answers.
const (
	benchReq = "GET /api/v1/items?page=2&sort=name HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n" +
		"User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"
	benchResp = "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Fri, 27 Nov 2026 02:26:34 GMT\r\n" +
		"Content-Type: application/json\r\nContent-Length: 17\r\nConnection: keep-alive\r\n\r\n" +
		"{\"id\":42,\"ok\":1}\n"
)

// BenchmarkExchange measures the user-space work per exchange: decoding a
// request record and a response record, reassembly, parsing, pairing,
// redaction and one sink formatting the record into its buffer, which is
// flushed to io.Discard every 64 exchanges as a batch would be. In the
// "varying" cases no header section is the same as the one before it on
// its connection (the request) or on any (the response).
func BenchmarkExchange(b *testing.B) {
	for _, bc := range []struct {
		name    string
		new     func(io.Writer, output.Clock) output.Sink
		varying bool
	}{{"json", output.NewJSON, false}, {"text", output.NewText, false}, {"json-varying", output.NewJSON, true}} {
		b.Run(bc.name, func(b *testing.B) {
			redactor, err := redact.New(redact.DefaultOptions())
			if err != nil {
				b.Fatal(err)
			}
			log := logrus.New()
			log.SetOutput(io.Discard)
			sink := bc.new(io.Discard, output.NewClock(0))
			written := 0
			p := New(Options{
				Exchange: exchange.DefaultOptions(),
				Redactor: redactor,
				Sinks:    []output.Sink{countSink{sink, &written}},
				Log:      log,
			})
			const conns = 20
			reqs := make([][]byte, conns)
			resps := make([][]byte, conns)
			for i := range conns {
				reqs[i] = dataRecord(10, uint64(i+1), 0, 1000, event.Recv, event.SysRecvfrom, benchReq)
				resps[i] = dataRecord(10, uint64(i+1), 0, 3000, event.Send, event.SysWritev, benchResp)
			}
			reqDigit := event.DataHeaderSize + strings.Index(benchReq, "page=") + len("page=")
			respDigit := event.DataHeaderSize + strings.Index(benchResp, ":34 GMT") + 2
			ne := binary.NativeEndian
			at := uint64(1_000_000_000)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				k := n % conns
				rq, rs := reqs[k], resps[k]
				if bc.varying { // 7 and the 20 connections have no common factor
					rq[reqDigit] = byte('0' + n%7)
					rs[respDigit] = byte('0' + n%7)
				}
				at += 10_000
				ne.PutUint64(rq[16:], at)
				ne.PutUint64(rq[24:], at+500)
				ne.PutUint64(rs[16:], at+3000)
				ne.PutUint64(rs[24:], at+3500)
				p.handle(rq)
				p.handle(rs)
				ne.PutUint64(rq[40:], ne.Uint64(rq[40:])+uint64(len(benchReq)))
				ne.PutUint64(rs[40:], ne.Uint64(rs[40:])+uint64(len(benchResp)))
				n++
				if n%64 == 0 {
					if err := p.flush(); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := p.flush(); err != nil {
				b.Fatal(err)
			}
			if written != n || p.Stats().DecodeErrors != 0 {
				b.Fatalf("%d exchanges written of %d, %d decode errors", written, n, p.Stats().DecodeErrors)
			}
		})
	}
}

// countSink counts the exchanges a sink was given.
type countSink struct {
	output.Sink
	n *int
}

func (s countSink) Write(e *record.Exchange) error {
	*s.n++
	return s.Sink.Write(e)
}
