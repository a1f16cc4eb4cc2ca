package httpparse

import (
	"fmt"
	"strings"
	"testing"
)

// TestBudget: parsers sharing a budget store header sections until it is
// spent, then truncate (framing still right); between messages they give
// back what they held beyond their floors, and Release gives back the rest.
func TestBudget(t *testing.T) {
	b := &Budget{Max: 8 << 10}
	lim := Limits{MaxHeaderBytes: 16 << 10, Budget: b}
	var head strings.Builder
	head.WriteString("GET /big HTTP/1.1\r\n")
	for i := 0; head.Len() < 12<<10; i++ {
		fmt.Fprintf(&head, "X-Pad-%d: %s\r\n", i, strings.Repeat("p", 100))
	}
	// Three parsers each hold a header section in progress.
	ps := make([]*feeder, 3)
	for i := range ps {
		ps[i] = newFeeder(lim, false, Requests)
		ps[i].feed([]byte(head.String()))
	}
	if b.Used() > b.Max || b.Refused == 0 {
		t.Fatalf("budget used %d of %d, %d refused", b.Used(), b.Max, b.Refused)
	}
	// Each ends its message: framed right, the later ones truncated.
	for i, f := range ps {
		f.feed([]byte("\r\n" + reqGet))
		if got := firsts(f.msgs); got != "GET,GET" && got != "GET!trunc,GET" {
			t.Errorf("parser %d: messages %s", i, got)
		}
	}
	if !ps[2].msgs[0].trunc {
		t.Error("the last parser's header section was stored whole past the budget")
	}
	for _, f := range ps {
		f.p.Trim()
	}
	if b.Used() != 0 {
		t.Errorf("%d bytes still held after every parser trimmed between messages", b.Used())
	}
	// A message in progress keeps its buffers through Trim; Release frees them.
	f := newFeeder(lim, false, Requests)
	f.feed([]byte(head.String()))
	held := b.Used()
	f.p.Trim()
	if held == 0 || b.Used() != held {
		t.Errorf("held %d, after Trim mid-message %d", held, b.Used())
	}
	f.p.Release()
	if b.Used() != 0 {
		t.Errorf("%d bytes held after Release", b.Used())
	}
}
