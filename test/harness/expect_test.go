package harness

import (
	"strings"
	"testing"
)

// line is a contract-shaped record; edit replaces fields of it.
func line(edit ...string) string {
	l := `{"time":"2026-11-27T00:00:00.000000001Z","pid":42,"tid":43,"comm":"srv","fd":5,"conn":7,` +
		`"side":"server","client":"127.0.0.1:5000","server":"127.0.0.1:80","method":"GET","path":"/ok/a",` +
		`"proto":"HTTP/1.1","headers":{"X-Test-Id":"a"},"status":200,"response_headers":{},` +
		`"request_bytes":50,"response_bytes":120,"latency_ms":0.2,"truncated":false,"gap":false,` +
		`"adopted":false,"incomplete":false,"unmatched":false}`
	for i := 0; i+1 < len(edit); i += 2 {
		l = strings.Replace(l, edit[i], edit[i+1], 1)
	}
	return l
}

func mustParse(t *testing.T, l string) Record {
	t.Helper()
	r, err := ParseRecord(l)
	if err != nil {
		t.Fatalf("ParseRecord(%s): %v", l, err)
	}
	return r
}

var want = Sent{ID: "a", Method: "GET", Path: "/ok/a", Answer: Answer{Status: 200, ServerPID: 42},
	RequestBytes: 50, ResponseBytes: 120, Server: "127.0.0.1:80", Client: "127.0.0.1:5000"}

func TestMismatches(t *testing.T) {
	tests := []struct {
		name string
		line string
		edit func(*Sent)
		errs []string // substrings, one per expected complaint
	}{
		{"right", line(), nil, nil},
		{"other pid", line(`"pid":42`, `"pid":41`), nil, []string{"pid 41"}},
		{"status", line(`"status":200`, `"status":0`), nil, []string{"status 0"}},
		{"zero latency", line(`"latency_ms":0.2`, `"latency_ms":0`), nil, []string{"latency_ms 0"}},
		{"request bytes", line(`"request_bytes":50`, `"request_bytes":49`), nil, []string{"request_bytes 49"}},
		{"response bytes unknown to the client but zero", line(`"response_bytes":120`, `"response_bytes":0`),
			func(s *Sent) { s.ResponseBytes = 0 }, []string{"response_bytes 0"}},
		{"response bytes in range", line(`"response_bytes":120`, `"response_bytes":145`),
			func(s *Sent) { s.MaxResponseBytes = 150 }, nil},
		{"response bytes over range", line(`"response_bytes":120`, `"response_bytes":151`),
			func(s *Sent) { s.MaxResponseBytes = 150 }, []string{"response_bytes 151"}},
		{"adopted unexpected", line(`"adopted":false`, `"adopted":true`), nil, []string{"adopted true"}},
		{"adopted expected", line(`"adopted":false`, `"adopted":true`), func(s *Sent) { s.Adopted = true }, nil},
		{"incomplete", line(`"incomplete":false`, `"incomplete":true`), nil, []string{"incomplete=true"}},
		{"truncated", line(`"truncated":false`, `"truncated":true`), nil, []string{"truncated"}},
		{"truncated allowed", line(`"truncated":false`, `"truncated":true`), func(s *Sent) { s.AnyTruncated = true }, nil},
		{"gap allowed", line(`"gap":false`, `"gap":true`), func(s *Sent) { s.MayGap = true }, nil},
		{"answer lost with the frames, flagged", line(`"status":200`, `"status":0`, `"response_bytes":120`, `"response_bytes":0`,
			`"latency_ms":0.2`, `"latency_ms":0`, `"gap":false`, `"gap":true`, `"incomplete":false`, `"incomplete":true`),
			func(s *Sent) { s.MayGap = true }, nil},
		{"answer lost without a gap", line(`"status":200`, `"status":0`, `"incomplete":false`, `"incomplete":true`),
			func(s *Sent) { s.MayGap = true }, []string{"status 0", "incomplete=true"}},
		{"another status with a gap", line(`"status":200`, `"status":500`, `"gap":false`, `"gap":true`, `"incomplete":false`, `"incomplete":true`),
			func(s *Sent) { s.MayGap = true }, []string{"status 500"}},
		{"two wrong", line(`"method":"GET"`, `"method":"HEAD"`, `"side":"server"`, `"side":"client"`), nil,
			[]string{"method", "side"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := want
			if tt.edit != nil {
				tt.edit(&s)
			}
			errs := Mismatches(mustParse(t, tt.line), s)
			if len(errs) != len(tt.errs) {
				t.Fatalf("Mismatches = %q, want %d complaints %q", errs, len(tt.errs), tt.errs)
			}
			for i, e := range tt.errs {
				if !strings.Contains(errs[i], e) {
					t.Errorf("complaint %q, want it to say %q", errs[i], e)
				}
			}
		})
	}
}

func TestParseRecordMissingKey(t *testing.T) {
	if _, err := ParseRecord(line(`,"gap":false`, ``)); err == nil || !strings.Contains(err.Error(), "gap") {
		t.Errorf("a record without gap: err %v, want it named", err)
	}
	if _, err := ParseRecord(line(`"time":"2026-11-27T00:00:00.000000001Z"`, `"time":"00:00:00"`)); err == nil {
		t.Error("a record with a time not in RFC 3339 parsed")
	}
	if _, err := ParseRecord("GET /x HTTP/1.1"); err == nil {
		t.Error("a text line parsed as a record")
	}
}

// recorder is a testing.TB that keeps its errors instead of failing.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Errorf(format string, a ...any) { r.errs = append(r.errs, format) }

func TestCheck(t *testing.T) {
	other := line(`"X-Test-Id":"a"`, `"X-Test-Id":"b"`, `/ok/a`, `/ok/b`)
	tests := []struct {
		name  string
		lines []string
		good  int
		errs  int
	}{
		{"once", []string{line()}, 1, 0},
		{"missing", nil, 0, 1},
		{"twice", []string{line(), line()}, 0, 1},
		{"an extra record", []string{line(), other}, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var recs []Record
			for _, l := range tt.lines {
				recs = append(recs, mustParse(t, l))
			}
			rec := &recorder{TB: t}
			good := Check(rec, recs, []Sent{want})
			if len(good) != tt.good || len(rec.errs) != tt.errs {
				t.Errorf("Check: %d good, errors %q; want %d good, %d errors", len(good), rec.errs, tt.good, tt.errs)
			}
		})
	}
}
