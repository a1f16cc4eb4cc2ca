package runner

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/httptrace/httptrace/pkg/event"
	"github.com/httptrace/httptrace/pkg/exchange"
)

// TestSummaryLevel: the summary is a warning, naming the loss, whenever any
// count says bytes of a traced connection were lost or not captured, and
// says "no events lost" only when none does.
func TestSummaryLevel(t *testing.T) {
	bpf := func(s event.Stat, n uint64) func(*Summary) { return func(x *Summary) { x.Counters.BPF[s] = n } }
	cases := []struct {
		name string
		set  func(*Summary)
		want string
	}{
		{"clean", func(*Summary) {}, "no events lost"},
		{"clean, filtered", func(x *Summary) { x.Filtered, x.Pipeline.FilteredOut = true, 5 },
			"summary: 7 exchanges (2 written, 5 filtered out), no events lost"},
		{"records dropped", bpf(event.StatRecordsDropped, 3), "3 events lost"},
		{"gaps", func(x *Summary) { x.Exchange.Gaps, x.Exchange.BytesNotSeen = 1, 10 }, "1 gaps (10 bytes not seen)"},
		{"unseen", func(x *Summary) { x.Exchange.BytesUnseen = 500 }, "500 bytes moved on traced connections with no record"},
		{"iov cut", bpf(event.StatIovCut, 2), "2 records not copied whole (2 with more iovecs"},
		{"iov cut, legacy object", func(x *Summary) { x.Legacy, x.Counters.BPF[event.StatIovCut] = true, 3 },
			"3 with more iovecs than are copied: this kernel has no bpf_loop, so only the first 64 of a transfer's are"},
		{"user memory", bpf(event.StatReadUserFailed, 1), "1 records not copied whole (0 with more iovecs than are copied, 1 whose"},
		{"raced calls", bpf(event.StatPosBehind, 4), "4 calls raced another"},
		{"calls not saved", bpf(event.StatCallsNotSaved, 5), "5 syscalls not followed"},
		{"http2 cut", bpf(event.StatH2Cut, 2), "HTTP/2: 0 directions whose frame boundaries were lost to bytes not seen or not copied, 2 calls not copied whole"},
		{"go tls returns unsaved", bpf(event.StatTLSReturnsUnsaved, 1),
			"TLS plaintext not logged: 0 TLS calls whose connection was not found, 1 Go TLS reads whose call was not saved (in flight when their probes attached"},
		// Failed writes are said beside the rest: not a loss on their own,
		// never in place of one.
		{"clean, failed writes", bpf(event.StatTLSWriteFailed, 2),
			"summary: 7 exchanges (2 Go TLS writes failed after their bytes were logged: their peers did not get all the records show), no events lost"},
		{"failed writes and spans dropped", func(x *Summary) { x.Counters.BPF[event.StatTLSWriteFailed], x.Spans.Dropped = 1, 3 },
			"(1 Go TLS writes failed after their bytes were logged: their peers did not get all the records show); 3 of 3 spans not exported"},
	}
	for _, tc := range cases {
		var out bytes.Buffer
		log := logrus.New()
		log.SetOutput(&out)
		log.SetFormatter(&logrus.JSONFormatter{})
		s := Summary{Exchange: exchange.Stats{Exchanges: 7}}
		tc.set(&s)
		logSummary(log, s)
		var line struct {
			Level, Msg string
		}
		if err := json.Unmarshal(out.Bytes(), &line); err != nil {
			t.Fatalf("%s: %v: %s", tc.name, err, out.String())
		}
		wantLevel := "warning"
		if strings.HasPrefix(tc.name, "clean") {
			wantLevel = "info"
		}
		if line.Level != wantLevel || !strings.Contains(line.Msg, tc.want) {
			t.Errorf("%s: %s %q, want %s containing %q", tc.name, line.Level, line.Msg, wantLevel, tc.want)
		}
	}
}
