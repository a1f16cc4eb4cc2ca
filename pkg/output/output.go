// Package output formats captured requests and the tool's own diagnostics
// through logrus: human text or one JSON object per line.
package output

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/httpparse"
)

// NewDiagLogger makes the logger for the tool's own messages: logfmt text
// or JSON.
func NewDiagLogger(w io.Writer, format string, level logrus.Level) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(w)
	l.SetLevel(level)
	if format == "json" {
		l.SetFormatter(&logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano})
	} else {
		l.SetFormatter(&logrus.TextFormatter{FullTimestamp: true, TimestampFormat: "15:04:05.000000"})
	}
	return l
}

// NewRequestLogger makes the logger for captured requests: one readable
// line each (see requestText), or one JSON object each.
func NewRequestLogger(w io.Writer, format string) *logrus.Logger {
	l := logrus.New()
	l.SetOutput(w)
	if format == "json" {
		l.SetFormatter(&logrus.JSONFormatter{TimestampFormat: time.RFC3339Nano})
	} else {
		l.SetFormatter(requestText{})
	}
	return l
}

// Clock turns the programs' monotonic timestamps into wall-clock time.
type Clock struct{ offset time.Duration }

// NewClock measures the offset between the monotonic and the wall clock now.
func NewClock(monoNow time.Duration) Clock {
	return Clock{offset: time.Duration(time.Now().UnixNano()) - monoNow}
}

// Wall converts a bpf_ktime_get_ns value.
func (c Clock) Wall(ns uint64) time.Time { return time.Unix(0, int64(ns)+int64(c.offset)) }

// Request logs one captured request.
func Request(l *logrus.Logger, clock Clock, ev event.Event, req httpparse.Request) {
	f := logrus.Fields{
		"pid":       ev.PID,
		"tid":       ev.TID,
		"fd":        ev.FD,
		"comm":      ev.CommString(),
		"method":    req.Method,
		"path":      req.Path,
		"proto":     req.Proto,
		"host":      req.Host,
		"bytes":     ev.ReadBytes,
		"captured":  ev.CapturedBytes,
		"truncated": ev.Truncated() || !req.Complete,
	}
	if _, ok := l.Formatter.(*logrus.JSONFormatter); ok {
		f["headers"] = headerMap(req.Headers)
	} else {
		f["headers"] = headerText(req.Headers)
	}
	l.WithTime(clock.Wall(ev.TimestampNs)).WithFields(f).Info(fmt.Sprintf("%s %s %s", req.Method, req.Path, req.Proto))
}

// headerMap keys headers by name; repeated names are joined with ", " as
// RFC 9110 allows.
func headerMap(hs []httpparse.Header) map[string]string {
	out := make(map[string]string, len(hs))
	for _, h := range hs {
		if prev, ok := out[h.Name]; ok {
			out[h.Name] = prev + ", " + h.Value
		} else {
			out[h.Name] = h.Value
		}
	}
	return out
}

// headerText renders headers on one line for the text format.
func headerText(hs []httpparse.Header) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = h.Name + ": " + h.Value
	}
	return strings.Join(parts, "; ")
}
