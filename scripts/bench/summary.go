// The tracer's closing summary (stderr, logrus text or JSON) and its records (stdout), read back.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// summary is what the closing summary line says.
type summary struct {
	Exchanges  int64 // exchanges (or, before exchanges, requests) logged
	EventsLost int64 // records the kernel could not hand over
	// ExportSpans and ExportDropped: spans exported over OTLP and dropped
	// (0 when the run exported none).
	ExportSpans, ExportDropped int64
	// ExportMetrics: exports of the metrics over OTLP (0: none).
	ExportMetrics int64
}

// Summary field names: the current ones first, then those of the
// request-only tool (whose lost count is lost_events + events_dropped).
var (
	exchangeKeys = []string{"exchanges", "requests"}
	lostKeys     = [][]string{{"events_lost"}, {"lost_events", "events_dropped"}}
)

// parseSummary finds the last line of stderr whose msg starts with
// "summary:" and reads its counts; a missing line or field is an error.
func parseSummary(stderr []byte) (summary, error) {
	var fields map[string]string
	sc := bufio.NewScanner(bytes.NewReader(stderr))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		f, err := logFields(sc.Text())
		if err == nil && strings.HasPrefix(f["msg"], "summary:") {
			fields = f
		}
	}
	if fields == nil {
		return summary{}, errors.New("no summary line on stderr")
	}
	var s summary
	var err error
	if s.Exchanges, err = firstInt(fields, exchangeKeys); err != nil {
		return s, err
	}
	if _, ok := fields["export_spans"]; ok {
		if s.ExportSpans, err = firstInt(fields, []string{"export_spans"}); err != nil {
			return s, err
		}
		if s.ExportDropped, err = firstInt(fields, []string{"export_dropped"}); err != nil {
			return s, err
		}
	}
	if _, ok := fields["export_metrics"]; ok {
		if s.ExportMetrics, err = firstInt(fields, []string{"export_metrics"}); err != nil {
			return s, err
		}
	}
	for _, group := range lostKeys {
		var sum int64
		found := true
		for _, k := range group {
			n, err := firstInt(fields, []string{k})
			if err != nil {
				found = false
				break
			}
			sum += n
		}
		if found {
			s.EventsLost = sum
			return s, nil
		}
	}
	return s, fmt.Errorf("summary has no events_lost (nor lost_events and events_dropped): %v", fields)
}

// firstInt returns the first of keys present in fields, as an integer.
func firstInt(fields map[string]string, keys []string) (int64, error) {
	for _, k := range keys {
		v, ok := fields[k]
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("summary field %s=%q is not an integer", k, v)
		}
		return n, nil
	}
	return 0, fmt.Errorf("summary has none of %s", strings.Join(keys, ", "))
}

// logFields splits one logrus line, JSON or key=value text, into strings.
func logFields(line string) (map[string]string, error) {
	line = strings.TrimSpace(line)
	if strings.HasPrefix(line, "{") {
		var raw map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			return nil, fmt.Errorf("decoding log line: %w", err)
		}
		f := make(map[string]string, len(raw))
		for k, v := range raw {
			var s string
			if json.Unmarshal(v, &s) == nil {
				f[k] = s
			} else {
				f[k] = string(v)
			}
		}
		return f, nil
	}
	return textFields(line)
}

var textFieldRe = regexp.MustCompile(`^([A-Za-z0-9_.\-]+)=`)

// textFields reads logrus's text format: key=value pairs separated by
// spaces, a value either bare or Go-quoted.
func textFields(line string) (map[string]string, error) {
	f := map[string]string{}
	rest := line
	for rest = strings.TrimLeft(rest, " "); rest != ""; rest = strings.TrimLeft(rest, " ") {
		m := textFieldRe.FindStringSubmatch(rest)
		if m == nil {
			return nil, fmt.Errorf("log line: no key=value at %q", rest)
		}
		key := m[1]
		rest = rest[len(m[0]):]
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, fmt.Errorf("log line: bad quoted value of %s: %w", key, err)
			}
			v, _ := strconv.Unquote(q)
			f[key] = v
			rest = rest[len(q):]
			continue
		}
		end := strings.IndexByte(rest, ' ')
		if end < 0 {
			end = len(rest)
		}
		f[key] = rest[:end]
		rest = rest[end:]
	}
	return f, nil
}

// countRecords counts the non-empty lines of a tracer's stdout; with
// wantJSON every line must be a JSON object.
func countRecords(path string, wantJSON bool) (int64, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("opening records: %w", err)
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	var n int64
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if wantJSON {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(line, &obj); err != nil {
				return n, fmt.Errorf("record %d is not a JSON object: %w", n+1, err)
			}
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return n, fmt.Errorf("reading records: %w", err)
	}
	return n, nil
}

var bpftraceLostRe = regexp.MustCompile(`Lost (\d+) events`)

// bpftraceLost sums bpftrace's own "Lost N events" reports.
func bpftraceLost(out []byte) int64 {
	var n int64
	for _, m := range bpftraceLostRe.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseInt(string(m[1]), 10, 64)
		n += v
	}
	return n
}

var (
	bpftraceEventRe   = regexp.MustCompile(`(?m)^[A-Z0-9]+ pid=`)
	bpftraceRequestRe = regexp.MustCompile(`(?m)^(REQ pid=|H2HEADERS pid=\d+ fd=\d+ dir=read )`)
	bpftracePrefaceRe = regexp.MustCompile(`(?m)^REQ pid=\d+ fd=\d+ bytes=\d+ PRI \* HTTP/2\.0`)
)

// bpftraceLines counts the lines of a generated bpftrace program's output:
// the requests it printed, one per exchange as httptrace's records are
// ("REQ pid=...", or for HTTP/2 the HEADERS frames read, "H2HEADERS ...
// dir=read", less the REQ lines of HTTP/2's client preface), and all the
// events it printed (REQ, RESP, SENDFILE, H2HEADERS, H2LOST), which are
// what its "Lost N events" counts are of.
func bpftraceLines(out []byte) (requests, events int64) {
	requests = int64(len(bpftraceRequestRe.FindAllIndex(out, -1)) - len(bpftracePrefaceRe.FindAllIndex(out, -1)))
	return requests, int64(len(bpftraceEventRe.FindAllIndex(out, -1)))
}
