package harness

import (
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The streaming methods of test.Echo. A message is its text; "fail" in a
// message makes the call end with StreamFailCode and StreamFailMessage
// after what it has sent.
//   - Count (server streaming): one message "N" or "N fail"; N answers.
//   - Collect (client streaming): any number of messages; one answer.
//   - Chat (bidirectional): each message echoed as it comes.
var echoStreams = []grpc.StreamDesc{
	{StreamName: "Count", ServerStreams: true, Handler: func(_ any, s grpc.ServerStream) error {
		var in []byte
		if err := s.RecvMsg(&in); err != nil {
			return err
		}
		f := strings.Fields(string(in))
		n, err := strconv.Atoi(f[0])
		if err != nil {
			return status.Error(codes.InvalidArgument, err.Error())
		}
		for i := range n {
			out := []byte("answer " + strconv.Itoa(i))
			if err := s.SendMsg(&out); err != nil {
				return err
			}
		}
		return failed(len(f) > 1 && f[1] == "fail")
	}},
	{StreamName: "Collect", ClientStreams: true, Handler: func(_ any, s grpc.ServerStream) error {
		n, fail := 0, false
		for {
			var in []byte
			err := s.RecvMsg(&in)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			n++
			fail = fail || string(in) == "fail"
		}
		if fail {
			return failed(true)
		}
		out := []byte("collected " + strconv.Itoa(n))
		return s.SendMsg(&out)
	}},
	{StreamName: "Chat", ServerStreams: true, ClientStreams: true, Handler: func(_ any, s grpc.ServerStream) error {
		for {
			var in []byte
			err := s.RecvMsg(&in)
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			if string(in) == "fail" {
				return failed(true)
			}
			if err := s.SendMsg(&in); err != nil {
				return err
			}
		}
	}},
}

// StreamFailCode and StreamFailMessage end a failed streaming call; the
// message has a character gRPC percent-encodes.
const (
	StreamFailCode    = codes.ResourceExhausted
	StreamFailMessage = "stopped: 100% spent"
)

func failed(fail bool) error {
	if fail {
		return status.Error(StreamFailCode, StreamFailMessage)
	}
	return nil
}

// StreamCall is one streaming call made and what it got: the messages each
// way and the status.
type StreamCall struct {
	GRPCCall
	Sent, Received int
	Message        string // the status message
}

// GRPCStreams makes streaming calls of each kind to test.Echo on this
// client's connection, ending OK and failing: Count 5, Count 3 then
// failing, Collect of 4, Collect failing, Chat of 6, Chat failing after 2.
func (c *GRPCClient) GRPCStreams(t testing.TB, prefix string) []StreamCall {
	t.Helper()
	kinds := []struct {
		method string
		send   []string
	}{
		{"Count", []string{"5"}},
		{"Count", []string{"3 fail"}},
		{"Collect", []string{"a", "b", "c", "d"}},
		{"Collect", []string{"a", "fail"}},
		{"Chat", []string{"1", "2", "3", "4", "5", "6"}},
		{"Chat", []string{"1", "2", "fail"}},
	}
	var calls []StreamCall
	for _, k := range kinds {
		desc := echoStreams[0]
		for _, d := range echoStreams {
			if d.StreamName == k.method {
				desc = d
			}
		}
		id := NewID(prefix)
		s, err := c.cc.NewStream(metadataCtx(id), &desc, "/test.Echo/"+k.method, grpc.ForceCodec(rawCodec{}))
		if err != nil {
			t.Fatalf("test.Echo/%s: %v", k.method, err)
		}
		call := StreamCall{GRPCCall: GRPCCall{Service: "test.Echo", Method: k.method, Metadata: id}}
		for _, m := range k.send {
			b := []byte(m)
			if err := s.SendMsg(&b); err != nil {
				t.Fatalf("test.Echo/%s: send: %v", k.method, err)
			}
			call.Sent++
			if k.method == "Chat" && m != "fail" {
				var out []byte
				if err := s.RecvMsg(&out); err != nil {
					t.Fatalf("test.Echo/Chat: receive: %v", err)
				}
				call.Received++
			}
		}
		if err := s.CloseSend(); err != nil {
			t.Fatalf("test.Echo/%s: close: %v", k.method, err)
		}
		for {
			var out []byte
			err := s.RecvMsg(&out)
			if err == nil {
				call.Received++
				continue
			}
			if !errors.Is(err, io.EOF) {
				st := status.Convert(err)
				call.Code, call.Message = st.Code(), st.Message()
			}
			break
		}
		calls = append(calls, call)
	}
	return calls
}
