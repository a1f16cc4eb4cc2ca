package e2e

import (
	"testing"

	"github.com/httptrace/httptrace/test/harness"
)

// TestHTTP2GRPCStreams: grpc-go's three streaming kinds (server, client,
// bidirectional) on one connection, each ending OK and failing with a
// status after some messages. Every call is one exchange with its
// messages counted each way; a failed one carries grpc_status and the
// percent-decoded grpc_message.
func TestHTTP2GRPCStreams(t *testing.T) {
	srv := harness.StartGRPCServer(t)
	tr := trace(t, srv.PID())
	c := harness.NewGRPCClient(t, srv.Addr)
	defer c.Close()
	calls := c.GRPCStreams(t, "grpc-stream")
	var sent []harness.Sent
	for i := range calls {
		sent = append(sent, harness.Sent{ID: calls[i].Metadata, Method: "POST", Path: "/test.Echo/" + calls[i].Method,
			Answer: harness.Answer{Status: 200}, Proto: "HTTP/2", Server: srv.Addr, GRPC: &calls[i].GRPCCall})
	}
	finish(t, tr, "grpc-streams", sent)
	seen := 0
	for _, r := range tr.Records(t) {
		for _, c := range calls {
			if !harness.Matches(r, c.Metadata) {
				continue
			}
			seen++
			if r.GRPCReqMsgs == nil || *r.GRPCReqMsgs != c.Sent || r.GRPCRespMsgs == nil || *r.GRPCRespMsgs != c.Received {
				t.Errorf("%s sent %d messages and got %d: %s", c.Method, c.Sent, c.Received, r.Line)
			}
			if r.GRPCMessage != c.Message {
				t.Errorf("%s ended with message %q, the record says %q: %s", c.Method, c.Message, r.GRPCMessage, r.Line)
			}
			if r.Incomplete || r.Gap || r.Reset != nil {
				t.Errorf("%s ended cleanly: %s", c.Method, r.Line)
			}
		}
	}
	if seen != len(calls) {
		t.Errorf("%d records of the %d calls", seen, len(calls))
	}
	failedCalls := 0
	for _, c := range calls {
		if c.Code == harness.StreamFailCode && c.Message == harness.StreamFailMessage {
			failedCalls++
		}
	}
	if failedCalls != 3 {
		t.Errorf("the client saw %d calls fail as asked, want 3: %+v", failedCalls, calls)
	}
}
