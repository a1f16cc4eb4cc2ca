package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/httptrace/httptrace/pkg/record"
)

// wantKeys is the contract's key order; bodies follow when present.
var wantKeys = []string{"time", "pid", "tid", "comm", "fd", "conn", "side", "client", "server",
	"method", "path", "proto", "headers", "status", "response_headers", "request_bytes",
	"response_bytes", "latency_ms", "truncated", "gap", "adopted", "incomplete", "unmatched"}

// typical is an ordinary exchange with six request headers.
func typical() *record.Exchange {
	return &record.Exchange{
		PID: 1234, TID: 1240, Comm: "nginx", FD: 6, Conn: 884213, Side: record.Server,
		Client: "127.0.0.1:51234", Server: "127.0.0.1:8080",
		Method: "GET", Path: "/api/v1/items?page=2&sort=name", Proto: "HTTP/1.1",
		Headers: hdrs("Host", "localhost:8080", "User-Agent", "curl/7.88.1", "Accept", "*/*",
			"Accept-Encoding", "gzip", "Authorization", "[redacted]", "X-Request-Id", "5f0c2a"),
		RequestBytes: 212, RequestStartNs: 1_000_000_000, RequestEndNs: 1_000_020_000,
		Status: 200, Reason: "OK", ResponseProto: "HTTP/1.1",
		ResponseHeaders: hdrs("Content-Type", "application/json", "Content-Length", "2048",
			"Date", "Wed, 25 Nov 2026 10:15:04 GMT", "Server", "nginx/1.22.1"),
		ResponseBytes: 2210, ResponseStartNs: 1_001_254_000, ResponseEndNs: 1_001_300_000,
		LatencyNs: 1_234_000,
	}
}

// hdrs makes headers from name, value pairs.
func hdrs(kv ...string) []record.Header {
	hs := make([]record.Header, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		hs = append(hs, record.Header{Name: kv[i], Value: kv[i+1]})
	}
	return hs
}

// utf8Replaced is s as encoding/json decodes it: each invalid byte U+FFFD.
func utf8Replaced(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

// expected builds the decoded object an exchange must give, independently
// of the encoder.
func expected(e *record.Exchange, clock Clock) map[string]any {
	headerObj := func(hs []record.Header) map[string]any {
		m := map[string]any{}
		var order []string
		first := map[string]string{}
		for _, h := range hs {
			k := strings.ToLower(h.Name)
			if _, ok := first[k]; !ok {
				first[k] = utf8Replaced(h.Name)
				order = append(order, k)
				m[first[k]] = utf8Replaced(h.Value)
			} else {
				m[first[k]] = m[first[k]].(string) + ", " + utf8Replaced(h.Value)
			}
		}
		return m
	}
	start := e.RequestStartNs
	if start == 0 {
		start = e.ResponseStartNs
	}
	m := map[string]any{
		"time": clock.Wall(start).Format(time.RFC3339Nano), "pid": json.Number(fmt.Sprint(e.PID)),
		"tid": json.Number(fmt.Sprint(e.TID)), "comm": utf8Replaced(e.Comm), "fd": json.Number(fmt.Sprint(e.FD)),
		"conn": json.Number(fmt.Sprint(e.Conn)), "side": string(e.Side), "client": e.Client, "server": e.Server,
		"method": utf8Replaced(e.Method), "path": utf8Replaced(e.Path), "proto": utf8Replaced(e.Proto),
		"headers": headerObj(e.Headers), "status": json.Number(fmt.Sprint(e.Status)),
		"response_headers": headerObj(e.ResponseHeaders), "request_bytes": json.Number(fmt.Sprint(e.RequestBytes)),
		"response_bytes": json.Number(fmt.Sprint(e.ResponseBytes)), "latency_ms": e.LatencyMs(),
		"truncated": e.Truncated, "gap": e.Gap, "adopted": e.Adopted, "incomplete": e.Incomplete,
		"unmatched": e.Unmatched,
	}
	if e.FramingAmbiguous {
		m["framing_ambiguous"] = true
	}
	if e.TLS {
		m["tls"] = true
	}
	if e.Stream != 0 {
		m["stream"] = json.Number(fmt.Sprint(e.Stream))
		m["authority"] = utf8Replaced(e.Authority)
	}
	if len(e.RequestTrailers) > 0 {
		m["request_trailers"] = headerObj(e.RequestTrailers)
	}
	if len(e.Trailers) > 0 {
		m["trailers"] = headerObj(e.Trailers)
	}
	if e.GRPCService != "" {
		m["grpc_service"], m["grpc_method"] = e.GRPCService, e.GRPCMethod
		if e.GRPCRequestMessages >= 0 {
			m["grpc_request_messages"] = json.Number(fmt.Sprint(e.GRPCRequestMessages))
		}
		if e.GRPCResponseMessages >= 0 {
			m["grpc_response_messages"] = json.Number(fmt.Sprint(e.GRPCResponseMessages))
		}
		if e.GRPCStatusSet {
			m["grpc_status"], m["grpc_message"] = json.Number(fmt.Sprint(e.GRPCStatus)), utf8Replaced(e.GRPCMessage)
		}
	}
	if e.Reset {
		m["reset"] = json.Number(fmt.Sprint(e.ResetCode))
	}
	if e.GoAway {
		m["goaway"] = json.Number(fmt.Sprint(e.GoAwayCode))
	}
	if e.Unresolved > 0 {
		m["unresolved"] = json.Number(fmt.Sprint(e.Unresolved))
	}
	if e.ContainerID != "" {
		m["container_id"] = e.ContainerID
		if e.ContainerName != "" {
			m["container_name"] = utf8Replaced(e.ContainerName)
		}
		if e.ContainerPID != 0 {
			m["container_pid"] = json.Number(fmt.Sprint(e.ContainerPID))
		}
	}
	if e.K8sPod != "" {
		m["k8s_namespace"], m["k8s_pod"], m["k8s_container"] = utf8Replaced(e.K8sNamespace), utf8Replaced(e.K8sPod), utf8Replaced(e.ContainerName)
	}
	if e.PodUID != "" {
		m["k8s_pod_uid"] = e.PodUID
	}
	if e.RequestBody != nil {
		m["request_body"] = utf8Replaced(string(e.RequestBody))
	}
	if e.ResponseBody != nil {
		m["response_body"] = utf8Replaced(string(e.ResponseBody))
	}
	return m
}

// topKeys lists the keys of a JSON object in the order they appear.
func topKeys(t *testing.T, line []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not an object: %v %v", tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, tok.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestJSONDecodesToEveryField(t *testing.T) {
	tricky := func(f func(e *record.Exchange)) *record.Exchange {
		e := typical()
		f(e)
		return e
	}
	cases := []struct {
		name string
		e    *record.Exchange
	}{
		{"typical", typical()},
		{"in a container and a pod", tricky(func(e *record.Exchange) {
			e.TLS = true
			e.ContainerID = "3f1d8a6e2b9c4d7e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6"
			e.ContainerPID = 1
			e.ContainerName = "web"
			e.PodUID = "5b3c1e2a-9d4f-4e6b-8a7c-0f1e2d3c4b5a"
		})},
		{"a pod's container, as the kubelet names it", tricky(func(e *record.Exchange) {
			e.ContainerID = "3f1d8a6e2b9c4d7e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6"
			e.ContainerPID, e.ContainerName, e.K8sPod, e.K8sNamespace = 1, "server", "web-0", "shop"
		})},
		{"in a container in the host's PID namespace", tricky(func(e *record.Exchange) {
			e.ContainerID = "3f1d8a6e2b9c4d7e8f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6"
		})},
		{"quotes and backslashes", tricky(func(e *record.Exchange) {
			e.Path = `/a"b\c?q="x"\`
			e.Headers = append(e.Headers, record.Header{Name: `X-"Q"`, Value: `say \"hi\"`})
		})},
		{"control bytes", tricky(func(e *record.Exchange) {
			e.Path = "/\x00\x01\x1f\x7f\t\r\n\b\f"
			e.Comm = "a\nb"
			e.ResponseHeaders = hdrs("X-Ctl", "\x00v\x1b[31m")
		})},
		{"invalid utf-8", tricky(func(e *record.Exchange) {
			e.Path = "/caf\xc3\xa9/\xff\xfe/\xc3"
			e.Headers = hdrs("X-Bin\x80", "\xed\xa0\x80 surrogate")
		})},
		{"html and line separators", tricky(func(e *record.Exchange) {
			e.Path = "/<script>&amp;\u2028\u2029"
		})},
		{"repeated headers", tricky(func(e *record.Exchange) {
			e.Headers = hdrs("X-Id", "1", "Host", "h", "x-id", "2", "X-ID", "3")
			e.ResponseHeaders = hdrs("Set-Cookie", "[redacted]", "Set-Cookie", "[redacted]")
		})},
		{"empty fields", &record.Exchange{}},
		{"incomplete", tricky(func(e *record.Exchange) {
			e.Status, e.Reason, e.ResponseProto, e.ResponseHeaders = 0, "", "", nil
			e.ResponseBytes, e.ResponseStartNs, e.ResponseEndNs, e.LatencyNs = 0, 0, 0, 0
			e.Incomplete, e.Gap, e.Truncated, e.Adopted = true, true, true, true
		})},
		{"unmatched", tricky(func(e *record.Exchange) {
			e.Method, e.Path, e.Proto, e.Headers = "", "", "", nil
			e.RequestBytes, e.RequestStartNs, e.RequestEndNs, e.LatencyNs = 0, 0, 0, 0
			e.Unmatched, e.Side = true, record.Client
		})},
		{"framing ambiguous", tricky(func(e *record.Exchange) { e.FramingAmbiguous = true })},
		{"http/2 grpc call", tricky(func(e *record.Exchange) {
			e.Proto, e.ResponseProto, e.Stream, e.Authority = "HTTP/2", "HTTP/2", 7, "api.example:443"
			e.Path, e.Method = "/pkg.Greeter/SayHello", "POST"
			e.Trailers = hdrs("grpc-status", "5", "grpc-message", "no%20such")
			e.RequestTrailers = hdrs("x-checksum", "1")
			e.GRPCRequestMessages, e.GRPCResponseMessages = 3, -1
			e.GRPCService, e.GRPCMethod, e.GRPCStatus, e.GRPCStatusSet, e.GRPCMessage = "pkg.Greeter", "SayHello", 5, true, "no such \"user\""
			e.Unresolved = 2
			e.GoAway, e.GoAwayCode = true, 0
		})},
		{"grpc call without a status", tricky(func(e *record.Exchange) {
			e.Stream, e.GRPCService, e.GRPCMethod, e.Incomplete, e.Reset, e.ResetCode = 1, "s", "m", true, true, 8
		})},
		{"bodies", tricky(func(e *record.Exchange) {
			e.RequestBody = []byte("{\"a\":\"\\u00e9\"}\n\x00\xff")
			e.ResponseBody = []byte{}
		})},
		{"large numbers", tricky(func(e *record.Exchange) {
			e.PID, e.TID, e.FD, e.Conn = 1<<32-1, 1<<32-1, -1, 1<<64-1
			e.RequestBytes, e.ResponseBytes, e.LatencyNs = 1<<64-1, 1<<63, 123_456_789_012
		})},
	}
	clock := NewClock(0)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			s := NewJSON(&out, clock)
			if err := s.Write(tc.e); err != nil {
				t.Fatal(err)
			}
			if out.Len() != 0 {
				t.Fatalf("wrote %d bytes before Flush", out.Len())
			}
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
			line := out.Bytes()
			if !utf8.Valid(line) {
				t.Errorf("output is not valid UTF-8: %q", line)
			}
			if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
				t.Fatalf("not one line: %q", line)
			}
			keys := wantKeys
			for _, opt := range []struct {
				key string
				set bool
			}{
				{"tls", tc.e.TLS}, {"framing_ambiguous", tc.e.FramingAmbiguous},
				{"stream", tc.e.Stream != 0}, {"authority", tc.e.Stream != 0},
				{"request_trailers", len(tc.e.RequestTrailers) > 0}, {"trailers", len(tc.e.Trailers) > 0},
				{"grpc_service", tc.e.GRPCService != ""}, {"grpc_method", tc.e.GRPCService != ""},
				{"grpc_request_messages", tc.e.GRPCService != "" && tc.e.GRPCRequestMessages >= 0},
				{"grpc_response_messages", tc.e.GRPCService != "" && tc.e.GRPCResponseMessages >= 0},
				{"grpc_status", tc.e.GRPCStatusSet}, {"grpc_message", tc.e.GRPCStatusSet},
				{"reset", tc.e.Reset}, {"goaway", tc.e.GoAway}, {"unresolved", tc.e.Unresolved > 0},
				{"container_id", tc.e.ContainerID != ""}, {"container_name", tc.e.ContainerName != ""}, {"container_pid", tc.e.ContainerPID != 0},
				{"k8s_namespace", tc.e.K8sPod != ""}, {"k8s_pod", tc.e.K8sPod != ""}, {"k8s_container", tc.e.K8sPod != ""}, {"k8s_pod_uid", tc.e.PodUID != ""},
			} {
				if opt.set {
					keys = append(keys[:len(keys):len(keys)], opt.key)
				}
			}
			if tc.e.RequestBody != nil {
				keys = append(keys[:len(keys):len(keys)], "request_body")
			}
			if tc.e.ResponseBody != nil {
				keys = append(keys[:len(keys):len(keys)], "response_body")
			}
			if got := topKeys(t, line); fmt.Sprint(got) != fmt.Sprint(keys) {
				t.Errorf("keys %v\nwant %v", got, keys)
			}
			dec := json.NewDecoder(bytes.NewReader(line))
			dec.UseNumber()
			var got map[string]any
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("invalid JSON %q: %v", line, err)
			}
			lat, err := got["latency_ms"].(json.Number).Float64()
			if err != nil {
				t.Fatalf("latency_ms: %v", err)
			}
			got["latency_ms"] = lat
			want := expected(tc.e, clock)
			for k, w := range want {
				if fmt.Sprintf("%#v", got[k]) != fmt.Sprintf("%#v", w) {
					t.Errorf("%s = %#v\nwant %#v", k, got[k], w)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d keys, want %d: %s", len(got), len(want), line)
			}
		})
	}
}

func TestJSONHeaderOrder(t *testing.T) {
	var out bytes.Buffer
	s := NewJSON(&out, NewClock(0))
	e := typical()
	e.Headers = hdrs("Zeta", "1", "Alpha", "2", "zeta", "3", "Mid", "4")
	if err := s.Write(e); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if want := `"headers":{"Zeta":"1, 3","Alpha":"2","Mid":"4"}`; !strings.Contains(out.String(), want) {
		t.Errorf("%s\nlacks %s", out.String(), want)
	}
	if want := `"path":"/api/v1/items?page=2&sort=name"`; !strings.Contains(out.String(), want) {
		t.Errorf("'&' should stay as it is: %s", out.String())
	}
}
