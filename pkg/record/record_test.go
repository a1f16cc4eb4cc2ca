package record

import "testing"

// TestErrorType: the conventions' failures, on each side, and the gRPC
// statuses that are a server's fault.
func TestErrorType(t *testing.T) {
	for _, c := range []struct {
		side       Side
		status     int
		grpcSet    bool
		grpcStatus int
		want       string
	}{
		{Server, 200, false, 0, ""},
		{Server, 404, false, 0, ""},
		{Client, 404, false, 0, "404"},
		{Server, 503, false, 0, "503"},
		{Client, 500, false, 0, "500"},
		{Server, 200, true, 0, ""},
		{Server, 200, true, 5, ""},             // NOT_FOUND: the caller's
		{Client, 200, true, 5, "NOT_FOUND"},    // every failure is the client's
		{Server, 200, true, 14, "UNAVAILABLE"}, // the server's
		{Client, 200, true, 17, "17"},          // a code gRPC does not define
		{Server, 200, false, 14, ""},           // no status carried
	} {
		if got := ErrorType(c.side, c.status, c.grpcSet, c.grpcStatus); got != c.want {
			t.Errorf("ErrorType(%s, %d, %v, %d) = %q, want %q", c.side, c.status, c.grpcSet, c.grpcStatus, got, c.want)
		}
	}
}
