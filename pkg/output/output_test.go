package output

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/httpparse"
)

func sample(t *testing.T, raw string, readBytes uint32) (event.Event, httpparse.Request) {
	t.Helper()
	ev := event.Event{Header: event.Header{PID: 10, TID: 11, FD: 7, Kind: event.KindRequest,
		ReadBytes: readBytes, CapturedBytes: uint32(len(raw))}, Data: []byte(raw)}
	copy(ev.Comm[:], "server")
	req, err := httpparse.ParseRequest(ev.Data)
	if err != nil {
		t.Fatal(err)
	}
	return ev, req
}

func TestJSONRecord(t *testing.T) {
	var buf bytes.Buffer
	ev, req := sample(t, "GET /a?b=1 HTTP/1.1\r\nHost: h\r\nX-Id: 1\r\nX-Id: 2\r\n\r\n", 60)
	Request(NewRequestLogger(&buf, "json"), NewClock(0), ev, req)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%q: %v", buf.String(), err)
	}
	want := map[string]any{"pid": 10.0, "tid": 11.0, "fd": 7.0, "comm": "server", "method": "GET",
		"path": "/a?b=1", "proto": "HTTP/1.1", "host": "h", "bytes": 60.0, "truncated": true}
	for k, v := range want {
		if rec[k] != v {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
	headers, _ := rec["headers"].(map[string]any)
	if headers["X-Id"] != "1, 2" || headers["Host"] != "h" {
		t.Errorf("headers = %v", rec["headers"])
	}
}

func TestTextLine(t *testing.T) {
	var buf bytes.Buffer
	raw := "POST /x HTTP/1.1\r\nHost: h\r\n\r\n"
	ev, req := sample(t, raw, uint32(len(raw)))
	Request(NewRequestLogger(&buf, "text"), NewClock(0), ev, req)
	line := buf.String()
	if !strings.HasSuffix(line, " server[10/11] fd=7 POST /x HTTP/1.1 host=h bytes=29 | Host: h\n") {
		t.Errorf("text line %q", line)
	}
	buf.Reset()
	ev, req = sample(t, "GET / HTTP/1.1\r\nHo", 400)
	Request(NewRequestLogger(&buf, "text"), NewClock(0), ev, req)
	if !strings.HasSuffix(buf.String(), " [truncated]\n") {
		t.Errorf("truncated request: %q", buf.String())
	}
}
