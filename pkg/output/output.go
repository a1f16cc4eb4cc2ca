// Package output writes exchanges to stdout (text or JSON sinks) and makes
// the logrus logger for the tool's own diagnostics.
package output

import (
	"io"
	"time"

	"github.com/sirupsen/logrus"
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

// Clock turns the programs' monotonic timestamps into wall-clock time.
type Clock struct{ offset time.Duration }

// NewClock measures the offset between the monotonic and the wall clock now.
func NewClock(monoNow time.Duration) Clock {
	return Clock{offset: time.Duration(time.Now().UnixNano()) - monoNow}
}

// Wall converts a bpf_ktime_get_ns value.
func (c Clock) Wall(ns uint64) time.Time { return time.Unix(0, int64(ns)+int64(c.offset)) }
