// Times and latencies as the sinks print them, without going through
// time.Format or float formatting for every record.
package output

import (
	"bytes"
	"strconv"
	"time"
)

// stamp formats wall-clock times in one layout whose fraction of a second
// comes right after the seconds. What comes before and after the fraction
// changes once a second at most, so it is formatted once per second (and
// location) and kept.
type stamp struct {
	nano   bool   // RFC 3339 with nanoseconds, trailing zeros dropped; else microseconds
	layout string // the whole layout, with its fraction
	bare   string // the layout without the fraction
	sec    int64
	loc    *time.Location
	buf    []byte // the time of sec formatted with bare
	at     int    // where the fraction goes in buf; -1: format each time
}

// The two stamps: JSON's time (time.RFC3339Nano) and the text lines' time.
func jsonStamp() stamp {
	return stamp{nano: true, layout: time.RFC3339Nano, bare: "2006-01-02T15:04:05Z07:00", at: -1}
}

func textStamp() stamp {
	return stamp{layout: textTime, bare: "2006-01-02T15:04:05Z07:00", at: -1}
}

// append appends t as t.AppendFormat(b, s.layout) does.
func (s *stamp) append(b []byte, t time.Time) []byte {
	sec, ns, loc := t.Unix(), t.Nanosecond(), t.Location()
	if sec != s.sec || loc != s.loc || s.buf == nil {
		s.fill(t.Add(-time.Duration(ns)), sec, loc)
	}
	if s.at < 0 {
		return t.AppendFormat(b, s.layout)
	}
	b = append(b, s.buf[:s.at]...)
	if s.nano {
		b = appendNanos(b, ns)
	} else {
		b = appendMicros(b, ns)
	}
	return append(b, s.buf[s.at:]...)
}

// fill formats the whole second t, which is sec in loc.
func (s *stamp) fill(t time.Time, sec int64, loc *time.Location) {
	s.sec, s.loc = sec, loc
	s.buf = t.AppendFormat(s.buf[:0], s.bare)
	head := t.AppendFormat(nil, "2006-01-02T15:04:05")
	s.at = -1
	if bytes.HasPrefix(s.buf, head) {
		s.at = len(head)
	}
}

// appendFraction appends a dot and frac as exactly digits decimal digits
// (frac < 10^digits, digits <= 9), then drops trailing zeros when trim says
// so (and the dot with them when all are zeros).
func appendFraction(b []byte, frac uint64, digits int, trim bool) []byte {
	var d [10]byte
	d[0] = '.'
	for i := digits; i > 0; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := digits + 1
	for trim && n > 1 && d[n-1] == '0' {
		n--
	}
	if n == 1 {
		return b
	}
	return append(b, d[:n]...)
}

// appendNanos appends ns (< 1e9) as ".999999999" does: a dot and nine
// digits without trailing zeros, nothing at all for 0.
func appendNanos(b []byte, ns int) []byte {
	return appendFraction(b, uint64(ns), 9, true)
}

// appendMicros appends ns (< 1e9) as ".000000" does: a dot and six digits,
// truncated.
func appendMicros(b []byte, ns int) []byte {
	return appendFraction(b, uint64(ns/1000), 6, false)
}

// exactNs bounds the latencies formatted with integers: below it ns/1e6
// has at most 15 significant digits, so the float64 nearest to it prints
// as exactly those digits.
const exactNs = 1_000_000_000_000_000

// appendMs appends ns in milliseconds as
// strconv.AppendFloat(b, float64(ns)/1e6, 'f', -1, 64) does.
func appendMs(b []byte, ns uint64) []byte {
	if ns >= exactNs {
		return strconv.AppendFloat(b, float64(ns)/1e6, 'f', -1, 64)
	}
	b = strconv.AppendUint(b, ns/1e6, 10)
	return appendFraction(b, ns%1e6, 6, true)
}

// appendMs3 appends ns in milliseconds as
// strconv.AppendFloat(b, float64(ns)/1e6, 'f', 3, 64) does. A value half
// way between two microseconds rounds as its float64 does, so strconv
// decides it.
func appendMs3(b []byte, ns uint64) []byte {
	if ns >= exactNs || ns%1000 == 500 {
		return strconv.AppendFloat(b, float64(ns)/1e6, 'f', 3, 64)
	}
	us := (ns + 500) / 1000
	b = strconv.AppendUint(b, us/1000, 10)
	frac := us % 1000
	return append(b, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}
