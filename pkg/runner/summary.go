package runner

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/exchange"
	"github.com/httptrace/httptrace/pkg/tracer"
)

// bpfStatsSysctl says whether the kernel counts BPF programs' run time.
const bpfStatsSysctl = "/proc/sys/kernel/bpf_stats_enabled"

// programStats reads the programs' run counts and times while they are
// attached, when the kernel counts them (kernel.bpf_stats_enabled=1).
func programStats(tr *tracer.Tracer, log *logrus.Logger) []tracer.ProgramStat {
	on, err := os.ReadFile(bpfStatsSysctl)
	if err != nil || !bytes.Equal(bytes.TrimSpace(on), []byte("1")) {
		return nil
	}
	stats, err := tr.ProgramStats()
	if err != nil {
		log.WithError(err).Warn("reading BPF program stats")
	}
	return stats
}

// logProgramStats logs each program that ran with its average run time.
func logProgramStats(log *logrus.Logger, stats []tracer.ProgramStat) {
	for _, p := range stats {
		if p.RunCount == 0 {
			continue
		}
		log.WithFields(logrus.Fields{"program": p.Name, "runs": p.RunCount,
			"avg_ns": p.RunTimeNs / p.RunCount}).Info("bpf program run time")
	}
}

// iovLimit says how many iovecs of a transfer are copied, where that is
// fewer than the kernel takes.
func iovLimit(legacy bool) string {
	if !legacy {
		return ""
	}
	return fmt.Sprintf(": this kernel has no bpf_loop, so only the first %d of a transfer's are", event.LegacyMaxIovecs)
}

// exchangesPhrase says how many exchanges there were and, under a filter,
// how many of them were written.
func exchangesPhrase(s Summary) string {
	n := s.Exchange.Exchanges
	if !s.Filtered {
		return fmt.Sprintf("%d exchanges", n)
	}
	out := s.Pipeline.FilteredOut
	return fmt.Sprintf("%d exchanges (%d written, %d filtered out)", n, n-min(out, n), out)
}

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
		"bytes_unseen":   x.BytesUnseen,
		"conns_replaced": x.ConnsReplaced,
		"conns_resumed":  x.ConnsResumed,
		"stale_records":  x.StaleRecords,
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
	if c.RunsSkipped > 0 {
		f["runs_skipped"] = c.RunsSkipped
	}
	if s.OutputWaits > 0 {
		f["output_waits"] = s.OutputWaits
	}
	if s.Legacy {
		f["bpf_object"] = "legacy"
	}
	if s.Filtered {
		f["filtered_out"] = s.Pipeline.FilteredOut
	}
	if x.NotHTTP > 0 {
		f["conns_not_http"] = x.NotHTTP
	}
	if x.ConnsHTTP2 > 0 {
		h := x.HTTP2
		f["conns_http2"] = x.ConnsHTTP2
		f["http2_streams"] = h.Streams
		f["http2_unresolved"] = h.Unresolved
		f["http2_framing_lost"] = h.FramingLost
		f["http2_resyncs"] = h.Resyncs
		f["http2_streams_dropped"] = h.StreamsDropped
		if h.ClosedAnswers > 0 {
			f["http2_closed_answers"] = h.ClosedAnswers
		}
	}
	if x.ConnsSwitchedTLS > 0 {
		f["conns_switched_tls"] = x.ConnsSwitchedTLS
	}
	if x.HeadersOverBudget > 0 {
		f["headers_over_budget"] = x.HeadersOverBudget
	}
	if s.TLS.Files > 0 || s.TLS.Unprobed > 0 {
		f["tls_libraries"] = s.TLS.Files
		f["tls_unprobed"] = s.TLS.Unprobed
		f["tls_probe_delay_max"] = s.TLS.MaxDelay.Round(time.Microsecond).String()
	}
	if s.TLS.Dropped > 0 {
		f["tls_procs_dropped"] = s.TLS.Dropped
	}
	if s.SpansOn {
		f["export_spans"] = s.Spans.Exported
		f["export_dropped"] = s.Spans.Dropped
	}
	if s.MetricsOn {
		f["export_metrics"] = s.Metrics.Exports
		f["export_metrics_failed"] = s.Metrics.Failed
		if s.Metrics.Unserved {
			f["export_metrics_unserved"] = true
		}
	}
	entry := log.WithFields(f)
	n := exchangesPhrase(s)
	if failed := c.BPF[event.StatTLSWriteFailed]; failed > 0 {
		// Not a loss: said beside whatever else the summary says.
		n += fmt.Sprintf(" (%d Go TLS writes failed after their bytes were logged: "+
			"their peers did not get all the records show)", failed)
	}
	switch {
	case lost > 0 || x.Gaps > 0 || s.Pipeline.DecodeErrors > 0:
		entry.Warn(fmt.Sprintf("summary: %s; %d events lost, %d gaps (%d bytes not seen), %d undecodable records",
			n, lost, x.Gaps, x.BytesNotSeen, s.Pipeline.DecodeErrors))
	case c.KprobeMissed > 0 || c.RunsSkipped > 0:
		entry.Warn(fmt.Sprintf("summary: %s; the kernel missed %d probe hits", n, c.KprobeMissed+c.RunsSkipped))
	case x.BytesUnseen > 0:
		entry.Warn(fmt.Sprintf("summary: %s; %d bytes moved on traced connections with no record "+
			"(splice, io_uring, a missed return): counted, not captured", n, x.BytesUnseen))
	case c.BPF[event.StatIovCut] > 0 || c.BPF[event.StatReadUserFailed] > 0:
		entry.Warn(fmt.Sprintf("summary: %s; %d records not copied whole (%d with more iovecs than are copied%s, "+
			"%d whose user memory could not be read): they say what was not captured",
			n, c.BPF[event.StatIovCut]+c.BPF[event.StatReadUserFailed], c.BPF[event.StatIovCut], iovLimit(s.Legacy),
			c.BPF[event.StatReadUserFailed]))
	case c.BPF[event.StatPosBehind] > 0:
		entry.Warn(fmt.Sprintf("summary: %s; %d calls raced another on the same socket and direction: "+
			"their bytes may be placed out of order", n, c.BPF[event.StatPosBehind]))
	case c.BPF[event.StatCallsNotSaved] > 0:
		entry.Warn(fmt.Sprintf("summary: %s; %d syscalls not followed: the table of calls in flight was full",
			n, c.BPF[event.StatCallsNotSaved]))
	case x.HTTP2.FramingLost > 0 || x.HTTP2.StreamsDropped > 0 || c.BPF[event.StatH2Cut] > 0:
		entry.Warn(fmt.Sprintf("summary: %s; HTTP/2: %d directions whose frame boundaries were lost to bytes not seen or not copied, "+
			"%d calls not copied whole (past 128 KiB, a vector call on the legacy object), %d streams past the %d followed per connection",
			n, x.HTTP2.FramingLost, c.BPF[event.StatH2Cut], x.HTTP2.StreamsDropped, exchange.MaxStreams))
	case c.BPF[event.StatTLSUnplaced] > 0 || c.BPF[event.StatTLSReturnsUnsaved] > 0 || s.TLS.Unprobed > 0 || s.TLS.Dropped > 0:
		entry.Warn(fmt.Sprintf("summary: %s; TLS plaintext not logged: %d TLS calls whose connection was not found, "+
			"%d Go TLS reads whose call was not saved (in flight when their probes attached, evicted from the 16384 followed, or after a panic), "+
			"%d files not probed, %d processes not looked at",
			n, c.BPF[event.StatTLSUnplaced], c.BPF[event.StatTLSReturnsUnsaved], s.TLS.Unprobed, s.TLS.Dropped))
	case s.Spans.Dropped > 0 || s.Metrics.LastFailed:
		entry.Warn(fmt.Sprintf("summary: %s; %s", n, exportLosses(s)))
	default:
		entry.Info(fmt.Sprintf("summary: %s, no events lost", n))
	}
}

// exportLosses says what the export over OTLP lost: spans dropped, the
// last totals of the metrics.
func exportLosses(s Summary) string {
	var parts []string
	if s.Spans.Dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d of %d spans not exported over OTLP (the export's queue was full, or the backend refused them)",
			s.Spans.Dropped, s.Spans.Dropped+s.Spans.Exported))
	}
	if s.Metrics.LastFailed {
		parts = append(parts, fmt.Sprintf("the last export of the metrics over OTLP failed: the backend lacks the totals since the export before (%d of %d exports failed)",
			s.Metrics.Failed, s.Metrics.Failed+s.Metrics.Exports))
	}
	return strings.Join(parts, "; ")
}
