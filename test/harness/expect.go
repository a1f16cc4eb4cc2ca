package harness

import (
	"cmp"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Sent is a request a client completed, with what it got back, and so what
// httptrace must log for it.
type Sent struct {
	ID           string // unique; in the id header and the path
	Method, Path string
	Answer       // the status and serving pid the client got
	// Exact sizes on the wire where the client knows them, else 0.
	RequestBytes, ResponseBytes int64
	// MaxResponseBytes, when set, lets ResponseBytes be anything from
	// ResponseBytes to it (interim 1xx responses may count or not).
	MaxResponseBytes int64
	Server, Client   string // ip:port where the client knows them
	Adopted          bool   // the connection was open before httptrace started
	AnyTruncated     bool   // truncated may be true (a header section over the capture limit)
	// MayGap: gap, incomplete and unresolved may be set (HTTP/2 frames
	// past the part of a call the programs copy, as in the legacy object's
	// vector writes: a stream whose end was among them ends incomplete).
	MayGap bool
	// PathCheck, when set, replaces the exact path comparison (redacted queries).
	PathCheck func(string) error
	// ClientSide: the record is the client's end of the exchange (side
	// client, logged by the client's process).
	ClientSide bool
	// TLS: the exchange went over TLS (the record must say tls).
	TLS bool
	// Proto is the record's proto: HTTP/1.1 when empty.
	Proto string
	// Stream is the HTTP/2 stream the record must name; 0: any odd one
	// for HTTP/2, none otherwise.
	Stream uint32
	// GRPC, when set, is the gRPC call's service, method and status the
	// record must give.
	GRPC *GRPCCall
}

var idSeq atomic.Int64

// runTag keeps ids unique across test runs on one machine.
var runTag = fmt.Sprintf("%x%x", os.Getpid(), time.Now().UnixNano()%0xffff)

// NewID is a unique request id; no id is a prefix or substring of another.
func NewID(prefix string) string {
	return fmt.Sprintf("%s-%s-%05d", prefix, runTag, idSeq.Add(1))
}

// Matches tells whether a record is the exchange of the request with id:
// by its id header, else by the id in its path.
func Matches(r Record, id string) bool {
	if h := r.Header(IDHeader); h != "" {
		return h == id
	}
	return strings.Contains(r.Path, id)
}

// AllLogged is a WaitFor condition: every request has a record.
func AllLogged(sent []Sent) func([]Record) bool {
	return func(recs []Record) bool {
		for _, s := range sent {
			found := false
			for _, r := range recs {
				if Matches(r, s.ID) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	}
}

// Check asserts every request is logged exactly once and right, and that
// nothing else is logged. It returns, by id, whether each request was.
func Check(t testing.TB, recs []Record, sent []Sent) map[string]bool {
	t.Helper()
	good := map[string]bool{}
	used := make([]bool, len(recs))
	for _, s := range sent {
		var got []Record
		for i, r := range recs {
			if Matches(r, s.ID) {
				got = append(got, r)
				used[i] = true
			}
		}
		if len(got) != 1 {
			t.Errorf("%s %s (id %s, status %d) logged %d times, want once%s", s.Method, s.Path, s.ID, s.Status, len(got), lines(got))
			continue
		}
		if errs := Mismatches(got[0], s); len(errs) > 0 {
			t.Errorf("%s %s (id %s) logged wrong: %s\n%s", s.Method, s.Path, s.ID, strings.Join(errs, "; "), got[0].Line)
			continue
		}
		good[s.ID] = true
	}
	for i, r := range recs {
		if !used[i] {
			t.Errorf("logged an exchange no client completed: %s", r.Line)
		}
	}
	return good
}

// Mismatches lists how a record differs from what the request must give.
func Mismatches(r Record, s Sent) []string {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if s.ServerPID != 0 && !s.ClientSide && r.PID != s.ServerPID {
		bad("pid %d, the client was served by %d", r.PID, s.ServerPID)
	}
	if r.Method != s.Method {
		bad("method %q, want %q", r.Method, s.Method)
	}
	if s.PathCheck != nil {
		if err := s.PathCheck(r.Path); err != nil {
			bad("path %q: %v", r.Path, err)
		}
	} else if r.Path != s.Path {
		bad("path %q, want %q", r.Path, s.Path)
	}
	if want := cmp.Or(s.Proto, "HTTP/1.1"); r.Proto != want {
		bad("proto %q, want %s", r.Proto, want)
	}
	switch want := s.Proto == "HTTP/2"; {
	case s.Stream != 0 && r.Stream != s.Stream:
		bad("stream %d, want %d", r.Stream, s.Stream)
	case s.Stream == 0 && ((r.Stream != 0) != want || (want && r.Stream%2 != 1)):
		bad("stream %d, want an odd stream id for HTTP/2 only", r.Stream)
	}
	if g := s.GRPC; g != nil {
		if r.GRPCService != g.Service || r.GRPCMethod != g.Method || r.GRPCStatus == nil || *r.GRPCStatus != int(g.Code) {
			bad("grpc %s/%s status %v, the client called %s/%s and got %d", r.GRPCService, r.GRPCMethod, r.GRPCStatus, g.Service, g.Method, g.Code)
		}
	}
	// lost: the answer went with frames the programs did not copy (MayGap):
	// the record must say so (gap and incomplete) and give no status.
	lost := s.MayGap && r.Incomplete && r.Gap && r.Status == 0
	if r.Status != s.Status && !lost {
		bad("status %d, the client got %d", r.Status, s.Status)
	}
	if want := map[bool]string{false: "server", true: "client"}[s.ClientSide]; r.Side != want {
		bad("side %q, want %s", r.Side, want)
	}
	if !(r.LatencyMs > 0) && !lost {
		bad("latency_ms %v, want > 0", r.LatencyMs)
	}
	if r.RequestBytes <= 0 || (s.RequestBytes > 0 && r.RequestBytes != s.RequestBytes) {
		bad("request_bytes %d, the client sent %d", r.RequestBytes, s.RequestBytes)
	}
	switch {
	case lost:
	case r.ResponseBytes <= 0:
		bad("response_bytes %d, want > 0", r.ResponseBytes)
	case s.MaxResponseBytes > 0 && (r.ResponseBytes < s.ResponseBytes || r.ResponseBytes > s.MaxResponseBytes):
		bad("response_bytes %d, the client got %d to %d", r.ResponseBytes, s.ResponseBytes, s.MaxResponseBytes)
	case s.MaxResponseBytes == 0 && s.ResponseBytes > 0 && r.ResponseBytes != s.ResponseBytes:
		bad("response_bytes %d, the client got %d", r.ResponseBytes, s.ResponseBytes)
	}
	if s.Server != "" && r.Server != s.Server {
		bad("server %q, want %q", r.Server, s.Server)
	}
	if s.Client != "" && r.Client != s.Client {
		bad("client %q, want %q", r.Client, s.Client)
	}
	if r.TLS != s.TLS {
		bad("tls %v, want %v", r.TLS, s.TLS)
	}
	if r.Adopted != s.Adopted {
		bad("adopted %v, want %v", r.Adopted, s.Adopted)
	}
	if r.Unmatched || (!s.MayGap && (r.Incomplete || r.Gap || r.Unresolved != 0)) || (r.Incomplete && !r.Gap) {
		bad("incomplete=%v unmatched=%v gap=%v unresolved=%d, want all false", r.Incomplete, r.Unmatched, r.Gap, r.Unresolved)
	}
	if r.Truncated && !s.AnyTruncated {
		bad("truncated, want whole")
	}
	return errs
}

// lines lists records' JSON lines, one per line, for a failure message.
func lines(recs []Record) string {
	var b strings.Builder
	for _, r := range recs {
		b.WriteString("\n  " + r.Line)
	}
	return b.String()
}

// CheckSummary asserts the summary lost nothing and agrees with the records.
func CheckSummary(t testing.TB, s Summary, recs []Record) {
	t.Helper()
	if s.EventsLost != 0 || s.DecodeErrors != 0 {
		t.Errorf("summary: events_lost=%d decode_errors=%d, want 0: %s", s.EventsLost, s.DecodeErrors, s.Line)
	}
	if s.Exchanges > len(recs) || s.Exchanges+s.Incomplete+s.Unmatched < len(recs) {
		t.Errorf("summary counts %d exchanges (%d incomplete, %d unmatched) for %d records: %s",
			s.Exchanges, s.Incomplete, s.Unmatched, len(recs), s.Line)
	}
}

// Result prints the line the kernel matrix collects:
// e2e-result: suite=S mode=M exchanges=GOOD/SENT.
func Result(suite, mode string, good map[string]bool, sent []Sent) {
	fmt.Printf("e2e-result: suite=%s mode=%s exchanges=%d/%d\n", suite, mode, len(good), len(sent))
}

// BySide splits records into the server side's and the client side's.
func BySide(recs []Record) (server, client []Record) {
	for _, r := range recs {
		if r.Side == "client" {
			client = append(client, r)
		} else {
			server = append(server, r)
		}
	}
	return server, client
}
