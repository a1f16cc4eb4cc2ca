package procs

import (
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
)

// TestListening finds this process by a port it listens on (IPv4 and
// IPv6), and not by a port nothing listens on or one it only connects to.
func TestListening(t *testing.T) {
	ln4, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln4.Close()
	p4 := ln4.Addr().(*net.TCPAddr).Port
	ln6, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer ln6.Close()
	p6 := ln6.Addr().(*net.TCPAddr).Port
	c, err := net.Dial("tcp4", ln4.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().(*net.TCPAddr).Port // a connected socket's port: not listening

	self := os.Getpid()
	for _, tc := range []struct {
		ports []int
		want  bool
	}{
		{[]int{p4}, true},
		{[]int{p6}, true},
		{[]int{1, p6}, true},
		{[]int{local}, false},
		{nil, false},
	} {
		got := Listening("/proc", tc.ports)
		if slices.Contains(got, self) != tc.want {
			t.Errorf("Listening(%v) = %v: has %d %v, want %v", tc.ports, got, self, !tc.want, tc.want)
		}
	}
	if got := Listening("/proc", []int{p4}); len(got) != 1 {
		t.Errorf("Listening(%d) = %v, want only this process (%s)", p4, got, strconv.Itoa(self))
	}
}
