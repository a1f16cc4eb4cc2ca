// libbpf's own messages, routed into the logger.

package tracer

import (
	"strings"
	"sync"

	bpf "github.com/aquasecurity/libbpfgo"
	"github.com/sirupsen/logrus"
)

var libbpfLogOnce sync.Once

// routeLibbpfLog sends libbpf's own messages through the logger: warnings as
// warnings, the rest at debug level.
func routeLibbpfLog(log logrus.FieldLogger) {
	libbpfLogOnce.Do(func() {
		l := log.WithField("component", "libbpf")
		bpf.SetLoggerCbs(bpf.Callbacks{
			Log: func(level int, msg string) {
				msg = strings.TrimRight(msg, "\n")
				if level == bpf.LibbpfWarnLevel {
					l.Warn(msg)
				} else {
					l.Debug(msg)
				}
			},
		})
	})
}
