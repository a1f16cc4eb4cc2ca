// Wait against the kernel: wakeups, timeouts and Wake (as root).
package ringbuf_test

import (
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/ringbuf/internal/ringtest"
)

func TestWait(t *testing.T) {
	_, r := open(t, 16<<10)
	payload := make([]byte, 16)
	send := func(modes ...ringtest.Mode) func() {
		return func() {
			for _, m := range modes {
				ringtest.Send(m, payload)
			}
		}
	}
	woken := make(chan error, 1)
	const short, long = 100 * time.Millisecond, 5 * time.Second
	steps := []struct {
		name     string
		before   func()
		timeout  time.Duration
		timedOut bool // Wait must last the timeout, else return well before it
		records  int  // what Read finds after Wait
	}{
		{name: "empty ring", timeout: short, timedOut: true},
		{name: "zero timeout", timeout: 0, timedOut: true},
		{name: "record without wakeup", before: send(ringtest.OutputNoWakeup),
			timeout: short, timedOut: true, records: 1},
		{name: "record with wakeup", before: send(ringtest.Output), timeout: long, records: 1},
		{name: "reserved and submitted", before: send(ringtest.Submit), timeout: long, records: 1},
		{name: "forced wakeup", before: send(ringtest.OutputForceWakeup), timeout: long, records: 1},
		// The kernel wakes only when the consumer has caught up with the record.
		{name: "wakeup while behind", before: send(ringtest.OutputNoWakeup, ringtest.Output),
			timeout: short, timedOut: true, records: 2},
		// Unread records do not make Wait return: only signals do.
		{name: "after a wakeup, records without", before: func() {
			send(ringtest.Output)()
			if err := r.Wait(long); err != nil {
				t.Fatal(err)
			}
			send(ringtest.OutputNoWakeup)()
		}, timeout: short, timedOut: true, records: 2},
		{name: "forced while behind", before: send(ringtest.OutputNoWakeup, ringtest.OutputForceWakeup),
			timeout: long, records: 2},
		{name: "discarded record", before: send(ringtest.Discard), timeout: long},
		{name: "Wake before Wait", before: func() { woken <- r.Wake() }, timeout: long},
		{name: "Wake used up", timeout: short, timedOut: true},
		{name: "Wake from another goroutine", before: func() {
			go func() { time.Sleep(50 * time.Millisecond); woken <- r.Wake() }()
		}, timeout: long},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		start := time.Now()
		if err := r.Wait(s.timeout); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		took := time.Since(start)
		switch {
		case s.timedOut && took < s.timeout*9/10:
			t.Errorf("%s: Wait returned after %v, before its timeout of %v", s.name, took, s.timeout)
		case !s.timedOut && took > time.Second:
			t.Errorf("%s: Wait took %v, want a prompt return", s.name, took)
		}
		n, err := r.Read(nil)
		if err != nil || n != s.records {
			t.Errorf("%s: Read = %d, %v; want %d records", s.name, n, err, s.records)
		}
		select {
		case err := <-woken:
			if err != nil {
				t.Errorf("%s: Wake: %v", s.name, err)
			}
		default:
		}
	}
}
