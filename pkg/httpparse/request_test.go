package httpparse

import (
	"errors"
	"testing"
)

func TestParseRequest(t *testing.T) {
	cases := []struct {
		name                string
		in                  string
		method, path, proto string
		host                string
		headers             int
		complete            bool
		err                 error
		errAny              bool
	}{
		{name: "simple", in: "GET /a HTTP/1.1\r\nHost: x:80\r\nX-Id: 7\r\n\r\n", method: "GET", path: "/a", proto: "HTTP/1.1", host: "x:80", headers: 2, complete: true},
		{name: "with body", in: "POST /p?q=1 HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", method: "POST", path: "/p?q=1", proto: "HTTP/1.0", headers: 1, complete: true},
		{name: "bare LF", in: "PUT /x HTTP/1.1\nHost: h\n\n", method: "PUT", path: "/x", proto: "HTTP/1.1", host: "h", headers: 1, complete: true},
		{name: "cut in headers", in: "GET / HTTP/1.1\r\nHost: a\r\nUser-Ag", method: "GET", path: "/", proto: "HTTP/1.1", host: "a", headers: 1},
		{name: "cut after request line", in: "GET /only HTTP/1.1\r\n", method: "GET", path: "/only", proto: "HTTP/1.1"},
		{name: "cut in version", in: "GET /v HTTP/1", method: "GET", path: "/v"},
		{name: "cut before CR", in: "GET /v HTTP/1.1\r", method: "GET", path: "/v", proto: "HTTP/1.1"},
		{name: "cut in target", in: "GET /very/long/pa", method: "GET", path: "/very/long/pa"},
		{name: "header value spaces", in: "GET / HTTP/1.1\r\nX-A:   spaced  \r\n\r\n", method: "GET", path: "/", proto: "HTTP/1.1", headers: 1, complete: true},
		{name: "response", in: "HTTP/1.1 200 OK\r\n\r\n", err: ErrNotRequest},
		{name: "binary", in: "\x16\x03\x01\x02\x00", err: ErrNotRequest},
		{name: "lower-case method", in: "get / HTTP/1.1\r\n\r\n", err: ErrNotRequest},
		{name: "HTTP/2 preface", in: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", err: ErrNotRequest},
		{name: "no version", in: "GET /\r\n\r\n", err: ErrNotRequest},
		{name: "empty", in: "", err: ErrNotRequest},
		{name: "bad header", in: "GET / HTTP/1.1\r\nno colon here\r\n\r\n", errAny: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRequest([]byte(tc.in))
			switch {
			case tc.err != nil:
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			case tc.errAny:
				if err == nil {
					t.Fatal("no error")
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if r.Method != tc.method || r.Path != tc.path || r.Proto != tc.proto || r.Host != tc.host ||
				len(r.Headers) != tc.headers || r.Complete != tc.complete {
				t.Errorf("got %+v", r)
			}
		})
	}
}

func TestGetIsCaseInsensitive(t *testing.T) {
	r, err := ParseRequest([]byte("GET / HTTP/1.1\r\nx-request-id: abc\r\nX-Request-Id: def\r\n\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := r.Get("X-REQUEST-ID"); !ok || v != "abc" {
		t.Errorf("Get = %q, %v", v, ok)
	}
	if _, ok := r.Get("Missing"); ok {
		t.Error("found a missing header")
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
	f.Add([]byte("POST /x HTTP/1"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err == nil && r.Method == "" {
			t.Errorf("accepted %q without a method", b)
		}
	})
}
