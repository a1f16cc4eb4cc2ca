package output

import (
	"bytes"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/pkg/record"
)

func TestTextLine(t *testing.T) {
	cases := []struct {
		name string
		edit func(e *record.Exchange)
		want string // the line after the time and its space
	}{
		{"typical", func(*record.Exchange) {},
			`nginx[1234/1240] server 127.0.0.1:51234 -> 127.0.0.1:8080 "GET /api/v1/items?page=2&sort=name HTTP/1.1" 200 req=212 resp=2210 1.234ms`},
		{"flags in fixed order", func(e *record.Exchange) { e.Unmatched, e.Gap, e.Truncated, e.Adopted = false, true, true, true },
			`nginx[1234/1240] server 127.0.0.1:51234 -> 127.0.0.1:8080 "GET /api/v1/items?page=2&sort=name HTTP/1.1" 200 req=212 resp=2210 1.234ms truncated gap adopted`},
		{"incomplete", func(e *record.Exchange) {
			e.Status, e.ResponseBytes, e.LatencyNs, e.Incomplete = 0, 0, 0, true
		}, `nginx[1234/1240] server 127.0.0.1:51234 -> 127.0.0.1:8080 "GET /api/v1/items?page=2&sort=name HTTP/1.1" - req=212 resp=0 - incomplete`},
		{"unmatched", func(e *record.Exchange) {
			e.Method, e.Path, e.Proto, e.RequestBytes, e.RequestStartNs = "", "", "", 0, 0
			e.Side, e.Unmatched = record.Client, true
		}, `nginx[1234/1240] client 127.0.0.1:51234 -> 127.0.0.1:8080 "-" 200 req=0 resp=2210 - unmatched`},
		{"escapes", func(e *record.Exchange) {
			e.Comm, e.Path, e.Proto = "my app", "/a b\"c\\d\r\n\x7f\xff/é", ""
		}, `my\x20app[1234/1240] server 127.0.0.1:51234 -> 127.0.0.1:8080 "GET /a b\x22c\x5cd\x0d\x0a\x7f\xff/é -" 200 req=212 resp=2210 1.234ms`},
		{"in a container, over TLS", func(e *record.Exchange) {
			e.TLS, e.ContainerID, e.ContainerPID = true, "3f1d8a6e2b9c4d7e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6", 1
		}, `nginx[1234/1240] server 127.0.0.1:51234 -> 127.0.0.1:8080 "GET /api/v1/items?page=2&sort=name HTTP/1.1" 200 req=212 resp=2210 1.234ms https container=3f1d8a6e2b9c`},
		{"in a named container", func(e *record.Exchange) {
			e.ContainerID, e.ContainerName = "3f1d8a6e2b9c4d7e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6", "web 1"
		}, `nginx[1234/1240] server 127.0.0.1:51234 -> 127.0.0.1:8080 "GET /api/v1/items?page=2&sort=name HTTP/1.1" 200 req=212 resp=2210 1.234ms container=web\x201`},
		{"in a pod", func(e *record.Exchange) {
			e.ContainerID, e.ContainerName = "3f1d8a6e2b9c4d7e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6", "server"
			e.K8sPod, e.K8sNamespace = "web-0", "shop"
		}, `web-0/server[1234/1240] server 127.0.0.1:51234 -> 127.0.0.1:8080 "GET /api/v1/items?page=2&sort=name HTTP/1.1" 200 req=212 resp=2210 1.234ms namespace=shop container=3f1d8a6e2b9c`},
		{"an HTTP/2 gRPC call", func(e *record.Exchange) {
			e.Method, e.Path, e.Proto, e.Stream, e.GRPCStatus, e.GRPCStatusSet, e.Unresolved = "POST", "/pkg.S/M", "HTTP/2", 5, 14, true, 1
		}, `nginx[1234/1240] server 127.0.0.1:51234 -> 127.0.0.1:8080 "POST /pkg.S/M HTTP/2" 200 req=212 resp=2210 1.234ms stream=5 grpc=UNAVAILABLE(14) unresolved=1`},
		{"a gRPC status gRPC does not define", func(e *record.Exchange) {
			e.Proto, e.Stream, e.GRPCStatus, e.GRPCStatusSet, e.GoAway = "HTTP/2", 1, 99, true, true
		}, `nginx[1234/1240] server 127.0.0.1:51234 -> 127.0.0.1:8080 "GET /api/v1/items?page=2&sort=name HTTP/2" 200 req=212 resp=2210 1.234ms stream=1 grpc=99 goaway=0`},
		{"empty", func(e *record.Exchange) { *e = record.Exchange{} },
			`-[0/0] - - -> - "-" - req=0 resp=0 0.000ms`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			s := NewText(&out, NewClock(0))
			e := typical()
			tc.edit(e)
			if err := s.Write(e); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			line, ok := strings.CutSuffix(out.String(), "\n")
			if !ok || strings.Contains(line, "\n") {
				t.Fatalf("not one line: %q", out.String())
			}
			ts, rest, _ := strings.Cut(line, " ")
			if len(ts) < len("2006-01-02T15:04:05.000000Z") || ts[10] != 'T' || ts[19] != '.' {
				t.Errorf("time %q", ts)
			}
			if rest != tc.want {
				t.Errorf("line %q\nwant %q", rest, tc.want)
			}
		})
	}
}
