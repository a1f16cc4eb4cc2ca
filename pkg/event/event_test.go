package event

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func record(h Header, data string, pad int) []byte {
	var b bytes.Buffer
	if err := binary.Write(&b, binary.NativeEndian, h); err != nil {
		panic(err)
	}
	b.WriteString(data)
	b.Write(make([]byte, pad))
	return b.Bytes()
}

func TestDecode(t *testing.T) {
	h := Header{TimestampNs: 99, PID: 10, TID: 11, FD: 5, Kind: KindRequest, ReadBytes: 20, CapturedBytes: 16}
	copy(h.Comm[:], "server")
	ev, err := Decode(record(h, "GET / HTTP/1.1\r\n", 4)) // perf pads records
	if err != nil {
		t.Fatal(err)
	}
	if ev.PID != 10 || ev.TID != 11 || ev.FD != 5 || ev.TimestampNs != 99 || ev.CommString() != "server" ||
		string(ev.Data) != "GET / HTTP/1.1\r\n" || !ev.Truncated() {
		t.Errorf("decoded %+v data %q", ev.Header, ev.Data)
	}

	full := h
	full.ReadBytes = 16
	copy(full.Comm[:], "exactly16chars!!")
	ev, err = Decode(record(full, "GET / HTTP/1.1\r\n", 0))
	if err != nil || ev.Truncated() || ev.CommString() != "exactly16chars!!" {
		t.Errorf("untruncated: %+v %v", ev.Header, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := Header{Kind: KindRequest, ReadBytes: 4, CapturedBytes: 4}
	cases := []struct {
		name string
		raw  []byte
		want string
	}{
		{"short", make([]byte, HeaderSize-1), "shorter than"},
		{"kind", record(Header{Kind: 9}, "", 0), "unknown kind 9"},
		{"missing data", record(good, "GE", 0), "carries 2"},
		{"captured over read", record(Header{Kind: KindRequest, ReadBytes: 2, CapturedBytes: 4}, "GET ", 0), "of a 2-byte read"},
	}
	for _, tc := range cases {
		if _, err := Decode(tc.raw); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}
