// Tests of the readers: wrk's report, the tracer's summary and records, /proc and bpftool.
package main

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const wrkReport = `Running 5s test @ http://127.0.0.1:8080/
  1 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   412.05us  101.22us   4.10ms   90.12%%
    Req/Sec    47.61k     1.12k   49.01k    70.00%
  236877 requests in 5.00s, 35.47MB read
Requests/sec:  47370.92
Transfer/sec:      7.09MB
`

func TestParseWrk(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    wrkResult
		wantErr bool
	}{
		{"clean", wrkReport, wrkResult{Requests: 236877, RPS: 47370.92}, false},
		{"errors", strings.Replace(wrkReport, "Requests/sec", "  Socket errors: connect 0, read 3, write 0, timeout 0\n  Non-2xx or 3xx responses: 7\nRequests/sec", 1),
			wrkResult{Requests: 236877, RPS: 47370.92, Errors: "socket errors: connect 0, read 3, write 0, timeout 0; 7 non-2xx/3xx"}, false},
		{"no count", "Requests/sec: 5\n", wrkResult{}, true},
		{"no rate", "  10 requests in 1.00s, 1KB read\n", wrkResult{Requests: 10}, true},
		{"empty", "", wrkResult{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseSummary(t *testing.T) {
	tests := []struct {
		name    string
		stderr  string
		want    summary
		wantErr bool
	}{
		{"request-only text", `time="00:06:30.5" level=info msg="probes attached" mode=tracepoint pids="[1]" probes=5
time="00:06:34.1" level=warning msg="summary: 12 requests, 5 events lost" decode_errors=0 duration=3.612s events_dropped=2 lost_events=3 requests=12`,
			summary{Exchanges: 12, EventsLost: 5}, false},
		{"request-only json", `{"level":"info","msg":"probes attached"}
{"decode_errors":0,"events_dropped":0,"level":"info","lost_events":0,"msg":"summary: 4 requests, no events lost","requests":4}`,
			summary{Exchanges: 4, EventsLost: 0}, false},
		{"exchanges preferred", `{"msg":"summary: 9 exchanges","exchanges":9,"requests":99,"events_lost":1,"lost_events":50,"events_dropped":50}`,
			summary{Exchanges: 9, EventsLost: 1}, false},
		{"exchanges text", `time="x" level=info msg="summary: 3 exchanges, nothing lost" bytes_not_seen=0 events_lost=0 exchanges=3 gaps=0`,
			summary{Exchanges: 3}, false},
		{"last summary wins", "level=info msg=\"summary: 1\" requests=1 lost_events=0 events_dropped=0\nlevel=info msg=\"summary: 2\" requests=2 lost_events=0 events_dropped=0",
			summary{Exchanges: 2}, false},
		{"spans exported", `{"msg":"summary: 5 exchanges","exchanges":5,"events_lost":0,"export_spans":4,"export_dropped":1}`,
			summary{Exchanges: 5, ExportSpans: 4, ExportDropped: 1}, false},
		{"no summary", `time="x" level=info msg="probes attached"`, summary{}, true},
		{"no lost field", `level=info msg="summary: 3" exchanges=3`, summary{Exchanges: 3}, true},
		{"half of the old lost pair", `level=info msg="summary: 3" requests=3 lost_events=0`, summary{Exchanges: 3}, true},
		{"not a number", `level=info msg="summary: x" exchanges=many events_lost=0`, summary{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSummary([]byte(tt.stderr))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestTextFields(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{`a=1 b="two words" c=x`, map[string]string{"a": "1", "b": "two words", "c": "x"}, false},
		{`msg="say \"hi\"" n=2`, map[string]string{"msg": `say "hi"`, "n": "2"}, false},
		{`pids="[1 2]"`, map[string]string{"pids": "[1 2]"}, false},
		{`plain words`, nil, true},
		{`a="unterminated`, nil, true},
	}
	for _, tt := range tests {
		got, err := textFields(tt.in)
		if (err != nil) != tt.wantErr {
			t.Fatalf("%q: err = %v, want error %v", tt.in, err, tt.wantErr)
		}
		if !tt.wantErr && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q: got %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCountRecords(t *testing.T) {
	tests := []struct {
		name    string
		content string
		json    bool
		want    int64
		wantErr bool
	}{
		{"text lines", "a\nb\n\nc\n", false, 3, false},
		{"empty", "", true, 0, false},
		{"json", "{\"pid\":1}\n{\"pid\":2}\n", true, 2, false},
		{"json broken", "{\"pid\":1}\nnot json\n", true, 1, true},
		{"json array is not a record", "[1]\n", true, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "out")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := countRecords(path, tt.json)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestBpftraceOutput(t *testing.T) {
	out := []byte("Attaching 7 probes...\nTracing HTTP requests of PID 5...\nREQ pid=5 fd=7 bytes=80 GET / HTTP/1.1\\x0d\n" +
		"RESP pid=5 fd=7 bytes=150 HTTP/1.1 200 OK\\x0d\nREQ pid=5 fd=8 bytes=80 GET /\nSENDFILE pid=5 fd=8 bytes=3600\n" +
		"Lost 3 events\nLost 4 events\nreturns missed: 1\n")
	if req, ev := bpftraceLines(out); req != 2 || ev != 4 {
		t.Errorf("requests, events = %d, %d, want 2, 4", req, ev)
	}
	if n := bpftraceLost(out); n != 7 {
		t.Errorf("lost = %d, want 7", n)
	}
	// HTTP/2: a request is a HEADERS frame read; the preface's REQ line is none.
	h2 := []byte("REQ pid=5 fd=9 bytes=14 PRI * HTTP/2.0\n" +
		"H2HEADERS pid=5 fd=9 dir=read stream=1 flags=0x05 length=36\n" +
		"H2HEADERS pid=5 fd=9 dir=write stream=1 flags=0x04 length=65\n" +
		"H2HEADERS pid=5 fd=9 dir=read stream=3 flags=0x05 length=12\n" +
		"H2LOST pid=5 fd=9 dir=write\n")
	if req, ev := bpftraceLines(h2); req != 2 || ev != 5 {
		t.Errorf("HTTP/2: requests, events = %d, %d, want 2, 5", req, ev)
	}
}

func TestParseStatTicks(t *testing.T) {
	tests := []struct {
		stat    string
		want    int64
		wantErr bool
	}{
		{"1234 (httptrace) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 9 0 100 0 0", 287, false},
		{"99 (a (b) c) R 1 99 99 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 1 0 0", 11, false},
		{"99 no paren", 0, true},
		{"99 (x) S 1 2", 0, true},
		{"99 (x) S 1 2 3 4 5 6 7 8 9 10 u s 0", 0, true},
	}
	for _, tt := range tests {
		got, err := parseStatTicks(tt.stat)
		if (err != nil) != tt.wantErr {
			t.Fatalf("%q: err = %v, want error %v", tt.stat, err, tt.wantErr)
		}
		if got != tt.want {
			t.Errorf("%q: got %d, want %d", tt.stat, got, tt.want)
		}
	}
}

func TestStatusAndFdinfo(t *testing.T) {
	status := "Name:\thttptrace\nVmPeak:\t  900 kB\nVmHWM:\t   18044 kB\nVmRSS:\t 17000 kB\n"
	if n, err := statusField(status, "VmHWM"); err != nil || n != 18044 {
		t.Errorf("VmHWM = %d, %v; want 18044", n, err)
	}
	if _, err := statusField("Name:\tx\n", "VmHWM"); err == nil {
		t.Error("missing VmHWM: want an error")
	}
	fdinfo := "pos:\t0\nflags:\t02000002\nprog_type:\t5\nprog_id:\t197\nrun_time_ns:\t10\n"
	if id, ok := fdinfoProgID(fdinfo); !ok || id != 197 {
		t.Errorf("prog_id = %d, %v; want 197", id, ok)
	}
	if _, ok := fdinfoProgID("pos:\t0\n"); ok {
		t.Error("fdinfo without prog_id: want not ok")
	}
}

func TestBpftoolProgs(t *testing.T) {
	js := `[{"id":3,"type":"cgroup_skb","name":"other"},
{"id":197,"type":"tracepoint","name":"b_read","run_time_ns":9000,"run_cnt":100},
{"id":196,"type":"tracepoint","name":"a_close","run_time_ns":0,"run_cnt":0}]`
	all, err := parseBpftoolProgs([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	got := selectProgs(all, []int{197, 196, 42})
	want := []progStat{{ID: 196, Name: "a_close"}, {ID: 197, Name: "b_read", RunTimeNs: 9000, RunCnt: 100}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if got[0].avgNs() != 0 || got[1].avgNs() != 90 {
		t.Errorf("avg = %v, %v; want 0, 90", got[0].avgNs(), got[1].avgNs())
	}
	if _, err := parseBpftoolProgs([]byte("Error: no")); err == nil {
		t.Error("non-JSON bpftool output: want an error")
	}
}

// TestReceiverSpans: Jaeger's telemetry, one sample per receiver and
// transport, summed; other series left out.
func TestReceiverSpans(t *testing.T) {
	text := `# HELP otelcol_receiver_accepted_spans_total Number of spans successfully pushed into the pipeline.
# TYPE otelcol_receiver_accepted_spans_total counter
otelcol_receiver_accepted_spans_total{receiver="otlp",service_name="jaeger",transport="http"} 1200
otelcol_receiver_accepted_spans_total{receiver="otlp",service_name="jaeger",transport="grpc"} 3 1733600000000
otelcol_receiver_refused_spans_total{receiver="otlp",service_name="jaeger",transport="http"} 0
otelcol_receiver_accepted_metric_points_total{receiver="otlp",transport="http"} 99
otelcol_exporter_sent_spans_total{exporter="jaeger_storage_exporter"} 1e+06
`
	acc, ref, err := receiverSpans(bufio.NewScanner(strings.NewReader(text)))
	if err != nil || acc != 1203 || ref != 0 {
		t.Errorf("accepted %d refused %d err %v, want 1203 0", acc, ref, err)
	}
	if _, _, err := receiverSpans(bufio.NewScanner(strings.NewReader("otelcol_receiver_refused_spans_total{} x\n"))); err == nil {
		t.Error("a sample that is no number: no error")
	}
}
