// Benchmarks of the whole user-space path for keep-alive exchanges.
package exchange

import (
	"testing"

	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/record"
)

// BenchmarkKeepAlive measures one small keep-alive exchange: a request
// record and a response record on one connection, through reassembly,
// parsing, pairing and the emitted record.
func BenchmarkKeepAlive(b *testing.B) {
	benchExchange(b, 1)
}

// BenchmarkKeepAlive1000Conns spreads the exchanges over 1000 connections.
func BenchmarkKeepAlive1000Conns(b *testing.B) {
	benchExchange(b, 1000)
}

func benchExchange(b *testing.B, conns int) {
	req := []byte("GET /api/v1/items?id=42 HTTP/1.1\r\nHost: example.local:8080\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"id\":42,\"ok\":1}\n")
	emitted := 0
	tr := New(DefaultOptions(), func(r *record.Exchange) { emitted++ })
	w := newWorld(b, DefaultOptions())
	peers := make([]*peer, conns)
	reqs := make([]event.Data, conns)
	resps := make([]event.Data, conns)
	for i := range peers {
		peers[i] = w.serverConn(uint64(i + 1))
		reqs[i] = *peers[i].data(in, string(req))
		resps[i] = *peers[i].data(out, string(resp))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		k := i % conns
		rq, rs := &reqs[k], &resps[k]
		tr.Data(rq)
		tr.Data(rs)
		rq.Pos += uint64(rq.Bytes)
		rs.Pos += uint64(rs.Bytes)
		rq.StartNs += 10000
		rq.EndNs += 10000
		rs.StartNs += 10000
		rs.EndNs += 10000
	}
	b.StopTimer()
	if emitted != b.N {
		b.Fatalf("%d exchanges emitted, want %d", emitted, b.N)
	}
}
