package output

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/pkg/record"
)

// TestStampMatchesFormat: the per-second cache prints what time.Format
// prints, across seconds, locations (including odd historical offsets),
// fractions with trailing zeros, and years of every width.
func TestStampMatchesFormat(t *testing.T) {
	var locs []*time.Location
	for _, name := range []string{"UTC", "Europe/Berlin", "Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Logf("no zone %s: %v", name, err)
			continue
		}
		locs = append(locs, loc)
	}
	locs = append(locs, time.Local, time.FixedZone("odd", -(3*3600+25*60+52)), time.FixedZone("east", 13*3600+45*60))
	rng := rand.New(rand.NewPCG(1, 2))
	nanos := []int{0, 1, 10, 100_000, 120_000_000, 999_999_999, 500_000_000, 123_456_789, 1000, 999}
	var times []time.Time
	base := time.Date(2026, 11, 27, 2, 26, 34, 0, time.UTC).UnixNano()
	for i := range 3000 {
		var ns int64
		switch i % 4 {
		case 0: // consecutive records a few microseconds apart
			ns = base + int64(i)*7919
		case 1:
			ns = base + rng.Int64N(1e15)
		case 2:
			ns = rng.Int64() // years up to 2262
		default:
			ns = -rng.Int64N(1 << 62) // before 1970
		}
		times = append(times, time.Unix(0, ns))
	}
	for _, sec := range []int64{-62135596800 - 86400, 253402300799, 253402300800 + 86400*400, 0, 1} {
		for _, ns := range nanos {
			times = append(times, time.Unix(sec, int64(ns)))
		}
	}
	// The last second before and first after a daylight saving change.
	times = append(times, time.Unix(1774746000-1, 999_000_000), time.Unix(1774746000, 0))
	for _, loc := range locs {
		js, ts := jsonStamp(), textStamp()
		for _, tm := range times {
			tm = tm.In(loc)
			if got, want := string(js.append([]byte("x"), tm)), "x"+tm.Format(time.RFC3339Nano); got != want {
				t.Fatalf("%s json %q, want %q", loc, got, want)
			}
			if got, want := string(ts.append(nil, tm)), tm.Format(textTime); got != want {
				t.Fatalf("%s text %q, want %q", loc, got, want)
			}
		}
	}
}

// TestLatencyMatchesStrconv: the integer formatting of latencies prints
// what strconv prints for LatencyMs.
func TestLatencyMatchesStrconv(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	vals := []uint64{0, 1, 5, 499, 500, 501, 999, 1000, 1499, 1500, 1501, 2500, 999_499, 999_500, 999_501,
		999_999, 1_000_000, 1_234_000, 1_234_500, 123_456_789_012, exactNs - 1, exactNs, exactNs + 1,
		1<<53 - 1, 1 << 53, 1<<53 + 1, 1<<63 - 1, 1 << 63, 1<<64 - 1}
	for d := uint64(1); d < 1<<63; d *= 10 {
		vals = append(vals, d-1, d, d+1, d*5, d*5-500, d*5+500)
	}
	for range 200_000 {
		vals = append(vals, rng.Uint64()>>rng.IntN(64), rng.Uint64N(1e9)/1000*1000+500)
	}
	for _, ns := range vals {
		e := &record.Exchange{LatencyNs: ns}
		if got, want := string(appendMs(nil, ns)), strconv.FormatFloat(e.LatencyMs(), 'f', -1, 64); got != want {
			t.Fatalf("%d ns: json %q, want %q", ns, got, want)
		}
		if got, want := string(appendMs3(nil, ns)), strconv.FormatFloat(e.LatencyMs(), 'f', 3, 64); got != want {
			t.Fatalf("%d ns: text %q, want %q", ns, got, want)
		}
	}
}

// TestPlainPrefix: the word-at-a-time scans stop exactly at the first byte
// the escaping loops must look at.
func TestPlainPrefix(t *testing.T) {
	jsonStop := func(c byte) bool { return c >= 0x80 || !jsonSafe[c] }
	textStop := func(space bool) func(c byte) bool {
		return func(c byte) bool { return c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || space && c == ' ' }
	}
	naive := func(s string, stop func(byte) bool) int {
		for i := 0; i < len(s); i++ {
			if stop(s[i]) {
				return i
			}
		}
		return len(s)
	}
	// Every byte value at every place of strings up to 24 bytes, in a
	// plain run and after other stops.
	plain := "abcdefghijklmnopqrstuvwxyz0123456789-_/.:;,"
	for n := 0; n <= 24; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(plain[:n])
				b[pos] = byte(c)
				s := string(b)
				if got, want := jsonPlain(s), naive(s, jsonStop); got != want {
					t.Fatalf("jsonPlain(%q) = %d, want %d", s, got, want)
				}
				for _, space := range []bool{false, true} {
					if got, want := textPlain(s, space), naive(s, textStop(space)); got != want {
						t.Fatalf("textPlain(%q, %v) = %d, want %d", s, space, got, want)
					}
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for range 100_000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.IntN(256))
			if rng.IntN(4) > 0 {
				b[i] = plain[rng.IntN(len(plain))]
			}
		}
		s := string(b)
		if got, want := jsonPlain(s), naive(s, jsonStop); got != want {
			t.Fatalf("jsonPlain(%q) = %d, want %d", s, got, want)
		}
		if got, want := textPlain(s, true), naive(s, textStop(true)); got != want {
			t.Fatalf("textPlain(%q) = %d, want %d", s, got, want)
		}
	}
	if s := strings.Repeat("a", 100) + "\x00"; jsonPlain(s) != 100 {
		t.Errorf("jsonPlain of 100 plain bytes and a NUL = %d", jsonPlain(s))
	}
}
