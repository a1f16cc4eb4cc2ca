package httpparse

import (
	"strings"
	"testing"
)

func TestOpeningOf(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Opening
	}{
		{"", OpeningUnknown},
		{"G", OpeningUnknown},
		{"GET", OpeningUnknown},
		{"GET ", OpeningHTTP},
		{"GET / HTTP/1.1\r\n", OpeningHTTP},
		{"\r\nPOST /x HTTP/1.1\r\n", OpeningHTTP},
		{"M-SEARCH * HTTP/1.1", OpeningHTTP},
		{"HTTP/1.1 200 OK\r\n", OpeningHTTP},
		{"HTTP", OpeningUnknown},
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", OpeningHTTP2},
		{"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x12\x04", OpeningHTTP2},
		{"PRI * HTT", OpeningUnknown},
		{"\x00\x00\x12\x04\x00\x00\x00\x00\x00\x00\x03", OpeningHTTP2}, // a server's SETTINGS, 3 settings
		{"\x00\x00\x00\x04\x00\x00\x00\x00\x00", OpeningHTTP2},         // an empty SETTINGS
		{"\x00\x00\x12\x04\x01\x00\x00\x00\x00", OpeningNotHTTP},       // a SETTINGS ack is never first
		{"\x00\x00\x13\x04\x00\x00\x00\x00\x00", OpeningNotHTTP},       // a length no SETTINGS has
		{"PRI /x HTTP/1.1\r\n", OpeningHTTP},                           // an HTTP/1 method named PRI
		{"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\nGET / HTTP/1.1\r\n", OpeningHTTP},
		{"\r\n\r\n\x00\r\nQUIT\n\x21\x11", OpeningHTTP},
		{"\r\n\r\n\x00", OpeningUnknown},
		{"\r\n", OpeningUnknown},
		{" GET /", OpeningNotHTTP},
		{"get / HTTP/1.1", OpeningNotHTTP},
		{"\x00AUTH EXTERNAL 30\r\n", OpeningNotHTTP}, // D-Bus
		{"\x16\x03\x01\x02\x00\x01", OpeningNotHTTP}, // a TLS ClientHello
		{"*1\r\n$4\r\nPING\r\n", OpeningNotHTTP},     // Redis
		{"SSH-2.0-OpenSSH_9.2\r\n", OpeningNotHTTP},
		{"220 mail.example.com ESMTP\r\n", OpeningNotHTTP},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ", OpeningNotHTTP}, // longer than any method
		{"ABCDEFGHIJKLMNOPQRSTUVWX ", OpeningHTTP},     // 24 letters: the longest method read
	} {
		if got := OpeningOf([]byte(c.in)); got != c.want {
			t.Errorf("OpeningOf(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestOpeningOfAllocatesNothing: an opening is up to a whole captured
// record (16 KiB), and every new connection's is looked at.
func TestOpeningOfAllocatesNothing(t *testing.T) {
	long := []byte("GET /" + strings.Repeat("a", 16<<10) + " HTTP/1.1\r\n")
	for _, b := range [][]byte{long, []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), []byte("PR"), []byte("\r\n\r\n\x00\r\nQUIT\n")} {
		if n := testing.AllocsPerRun(10, func() { OpeningOf(b) }); n != 0 {
			t.Errorf("OpeningOf(%.20q...) allocates %v times", b, n)
		}
	}
}
