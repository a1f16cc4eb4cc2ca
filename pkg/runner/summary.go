package runner

import (
	"fmt"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/event"
)

// logSummary logs what the session saw. It is a warning when anything was
// lost or never seen, and says how much.
func logSummary(log *logrus.Logger, s Summary) {
	c, x := s.Counters, s.Exchange
	lost := c.BPF[event.StatRecordsDropped]
	f := logrus.Fields{
		"mode":           s.Mode,
		"reason":         string(s.Reason),
		"duration":       s.Duration.Round(time.Millisecond).String(),
		"exchanges":      x.Exchanges,
		"incomplete":     x.Incomplete,
		"unmatched":      x.Unmatched,
		"gaps":           x.Gaps,
		"bytes_not_seen": x.BytesNotSeen,
		"events_lost":    lost,
		"records":        s.Pipeline.Records,
		"decode_errors":  s.Pipeline.DecodeErrors,
	}
	// The programs' own counters, where they counted something.
	for i, name := range event.StatNames {
		if c.BPF[i] != 0 {
			f["bpf_"+name] = c.BPF[i]
		}
	}
	if c.KprobeMissedKnown {
		f["kprobe_missed"] = c.KprobeMissed
	}
	entry := log.WithFields(f)
	switch {
	case lost > 0 || x.Gaps > 0 || s.Pipeline.DecodeErrors > 0:
		entry.Warn(fmt.Sprintf("summary: %d exchanges; %d events lost, %d gaps (%d bytes not seen), %d undecodable records",
			x.Exchanges, lost, x.Gaps, x.BytesNotSeen, s.Pipeline.DecodeErrors))
	case c.KprobeMissed > 0:
		entry.Warn(fmt.Sprintf("summary: %d exchanges; the kernel missed %d probe hits", x.Exchanges, c.KprobeMissed))
	default:
		entry.Info(fmt.Sprintf("summary: %d exchanges, no events lost", x.Exchanges))
	}
}
