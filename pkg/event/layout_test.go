package event

import (
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/httptrace/httptrace/pkg/config"
	"github.com/httptrace/httptrace/pkg/event/internal/cevent"
)

// TestLayoutMatchesC compares Header with struct httptrace_event in
// bpf/event.h field by field: order, offset, and the size up to data.
func TestLayoutMatchesC(t *testing.T) {
	cFields := cevent.Fields()
	goType := reflect.TypeOf(Header{})
	if goType.NumField()+1 != len(cFields) { // +1: data follows the header
		t.Fatalf("Go Header has %d fields, C struct has %d before data", goType.NumField(), len(cFields)-1)
	}
	for i := 0; i < goType.NumField(); i++ {
		f := goType.Field(i)
		if snake(f.Name) != cFields[i].Name {
			t.Errorf("field %d: Go %s, C %s (order or name differs)", i, f.Name, cFields[i].Name)
		}
		if f.Offset != cFields[i].Offset {
			t.Errorf("field %d: Go %s at %d, C %s at %d", i, f.Name, f.Offset, cFields[i].Name, cFields[i].Offset)
		}
	}
	data := cFields[len(cFields)-1]
	if data.Name != "data" || data.Offset != HeaderSize || goType.Size() != HeaderSize {
		t.Errorf("C data at %d, HeaderSize %d, Go header size %d", data.Offset, HeaderSize, goType.Size())
	}
	if cevent.Size != HeaderSize+cevent.MaxCaptureBytes {
		t.Errorf("sizeof(struct httptrace_event) = %d, want header %d + data %d (implicit padding?)", cevent.Size, HeaderSize, cevent.MaxCaptureBytes)
	}
	if len(Header{}.Comm) != cevent.CommLen {
		t.Errorf("comm is %d bytes in Go, %d in C", len(Header{}.Comm), cevent.CommLen)
	}
	if config.MaxCaptureBytes != cevent.MaxCaptureBytes {
		t.Errorf("config allows %d capture bytes, the BPF buffer holds %d", config.MaxCaptureBytes, cevent.MaxCaptureBytes)
	}
	if KindRequest != cevent.KindRequest {
		t.Errorf("KindRequest = %d, C has %d", KindRequest, cevent.KindRequest)
	}
}

// TestStatsMatchC checks every counter's index against enum httptrace_stat.
func TestStatsMatchC(t *testing.T) {
	c := cevent.Stats()
	if len(c) != int(StatCount) || cevent.StatCount != int(StatCount) {
		t.Fatalf("C has %d counters (count %d), Go %d", len(c), cevent.StatCount, StatCount)
	}
	for i, name := range StatNames {
		v, ok := c[name]
		if !ok || v != uint32(i) {
			t.Errorf("counter %s: Go index %d, C %d (present %v)", name, i, v, ok)
		}
	}
}

// snake turns a Go field name into its C spelling: TimestampNs -> timestamp_ns, PID -> pid.
func snake(name string) string {
	var b strings.Builder
	rs := []rune(name)
	for i, r := range rs {
		if i > 0 && unicode.IsUpper(r) && unicode.IsLower(rs[i-1]) {
			b.WriteByte('_')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}
