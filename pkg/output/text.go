// The text sink: one access-log line per exchange.
package output

import (
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/httptrace/httptrace/pkg/record"
)

// textTime is the time format of text lines: local time to the microsecond,
// with the zone, so lines from different days and hosts still sort and
// compare.
const textTime = "2006-01-02T15:04:05.000000Z07:00"

// NewText returns a sink writing one line per exchange, fields in a fixed
// order and separated by single spaces:
//
//	2026-11-25T10:15:04.123456+01:00 nginx[1234/1240] server 127.0.0.1:51234 -> 127.0.0.1:8080 "GET /a?x=1 HTTP/1.1" 200 req=118 resp=2048 1.234ms
//
// then the flags that are set, each as a word: https, truncated, gap,
// adopted, incomplete, unmatched, framing_ambiguous; then, for a process in
// a container, container=<its name, else its short ID>. A missing value (no request, no status, no
// latency) is "-". Control bytes, '"', '\', invalid UTF-8 and, outside the
// quotes, spaces are written as \xHH, so every exchange is one line with
// stable fields.
func NewText(w io.Writer, clock Clock) Sink {
	return &sink{buffer: newBuffer(w), clock: clock, stamp: textStamp(), format: appendText}
}

// appendText appends e as one access-log line.
func appendText(b []byte, e *record.Exchange, s *sink) []byte {
	b = s.appendTime(b, e)
	b = append(b, ' ')
	if e.K8sPod != "" { // a pod's container: its names, not the command's
		b = appendTextField(b, e.K8sPod)
		if e.ContainerName != "" {
			b = append(b, '/')
			b = appendTextField(b, e.ContainerName)
		}
	} else {
		b = appendTextField(b, e.Comm)
	}
	b = append(b, '[')
	b = strconv.AppendUint(b, uint64(e.PID), 10)
	b = append(b, '/')
	b = strconv.AppendUint(b, uint64(e.TID), 10)
	b = append(b, "] "...)
	b = appendTextField(b, string(e.Side))
	b = append(b, ' ')
	b = appendTextField(b, e.Client)
	b = append(b, " -> "...)
	b = appendTextField(b, e.Server)
	b = append(b, ' ', '"')
	if e.Method == "" && e.Path == "" && e.Proto == "" {
		b = append(b, '-')
	} else {
		b = appendTextQuoted(b, e.Method)
		b = append(b, ' ')
		b = appendTextQuoted(b, e.Path)
		b = append(b, ' ')
		b = appendTextQuoted(b, e.Proto)
	}
	b = append(b, '"', ' ')
	if e.Status == 0 {
		b = append(b, '-')
	} else {
		b = strconv.AppendInt(b, int64(e.Status), 10)
	}
	b = append(b, " req="...)
	b = strconv.AppendUint(b, e.RequestBytes, 10)
	b = append(b, " resp="...)
	b = strconv.AppendUint(b, e.ResponseBytes, 10)
	b = append(b, ' ')
	if e.Incomplete || e.Unmatched {
		b = append(b, '-')
	} else {
		b = appendMs3(b, e.LatencyNs) // as strconv formats e.LatencyMs()
		b = append(b, "ms"...)
	}
	b = appendFlag(b, " https", e.TLS)
	b = appendFlag(b, " truncated", e.Truncated)
	b = appendFlag(b, " gap", e.Gap)
	b = appendFlag(b, " adopted", e.Adopted)
	b = appendFlag(b, " incomplete", e.Incomplete)
	b = appendFlag(b, " unmatched", e.Unmatched)
	b = appendFlag(b, " framing_ambiguous", e.FramingAmbiguous)
	if e.Stream != 0 {
		b = append(b, " stream="...)
		b = strconv.AppendUint(b, uint64(e.Stream), 10)
	}
	if e.GRPCStatusSet { // grpc=NOT_FOUND(5); a code gRPC does not define as grpc=99
		b = append(b, " grpc="...)
		if name := record.GRPCCodeName(e.GRPCStatus); name != "" {
			b = append(b, name...)
			b = append(b, '(')
			b = strconv.AppendInt(b, int64(e.GRPCStatus), 10)
			b = append(b, ')')
		} else {
			b = strconv.AppendInt(b, int64(e.GRPCStatus), 10)
		}
	}
	if e.GoAway {
		b = append(b, " goaway="...)
		b = strconv.AppendUint(b, uint64(e.GoAwayCode), 10)
	}
	if e.Reset {
		b = append(b, " reset="...)
		b = strconv.AppendUint(b, uint64(e.ResetCode), 10)
	}
	if e.Unresolved > 0 {
		b = append(b, " unresolved="...)
		b = strconv.AppendInt(b, int64(e.Unresolved), 10)
	}
	switch { // its name, else the short ID, as runtimes print it (a pod's: the pod's namespace and the short ID)
	case e.K8sPod != "":
		b = append(b, " namespace="...)
		b = appendTextField(b, e.K8sNamespace)
		b = append(b, " container="...)
		b = appendTextField(b, e.ContainerID[:min(len(e.ContainerID), 12)])
	case e.ContainerName != "":
		b = append(b, " container="...)
		b = appendTextField(b, e.ContainerName)
	case e.ContainerID != "":
		b = append(b, " container="...)
		b = appendTextField(b, e.ContainerID[:min(len(e.ContainerID), 12)])
	}
	return append(b, '\n')
}

func appendFlag(b []byte, word string, set bool) []byte {
	if set {
		return append(b, word...)
	}
	return b
}

// appendTextField appends a space-free field, "-" when empty.
func appendTextField(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return appendTextEscaped(b, s, true)
}

// appendTextQuoted appends a part of the quoted request line, "-" when empty.
func appendTextQuoted(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	return appendTextEscaped(b, s, false)
}

// appendTextEscaped writes s with control bytes, DEL, '"', '\', invalid
// UTF-8 and (if escapeSpace) ' ' as \xHH.
func appendTextEscaped(b []byte, s string, escapeSpace bool) []byte {
	i := textPlain(s, escapeSpace)
	if i == len(s) {
		return append(b, s...)
	}
	start := 0
	for i < len(s) {
		c := s[i]
		size := 1
		var bad bool
		if c < utf8.RuneSelf {
			bad = c < 0x20 || c == 0x7f || c == '"' || c == '\\' || (escapeSpace && c == ' ')
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			bad = r == utf8.RuneError && size == 1
		}
		if bad {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
			start = i + 1
		}
		i += size
	}
	return append(b, s[start:]...)
}

// textPlain is the length of the longest prefix of s that a text field
// holds unchanged: ASCII from ' ' (or '!' when escapeSpace) to '~' other
// than '"' and '\', checked 8 bytes at a time, then byte by byte.
func textPlain(s string, escapeSpace bool) int {
	low := byte(' ')
	if escapeSpace {
		low = '!'
	}
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := wordAt(s, i)
		if hasBelow(x, low) || hasByte(x, 0x7f) || hasByte(x, '"') || hasByte(x, '\\') {
			break
		}
	}
	for i < len(s) {
		c := s[i]
		if c < low || c >= 0x7f || c == '"' || c == '\\' {
			break
		}
		i++
	}
	return i
}
