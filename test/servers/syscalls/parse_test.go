package syscalls

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		ok    bool
		size  int
		path  string
		close bool
	}{
		{"no blank line yet", "GET / HTTP/1.1\r\nHost: a\r\n", false, 0, "", false},
		{"whole GET", "GET /tx/write/1 HTTP/1.1\r\nHost: a\r\n\r\n", true, 37, "/tx/write/1", false},
		{"two pipelined, first only", "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", true, 19, "/a", false},
		{"body not all here", "POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc", false, 0, "", false},
		{"body all here", "POST /p HTTP/1.1\r\ncontent-length: 5\r\n\r\nabcde", true, 44, "/p", false},
		{"connection close", "GET /c HTTP/1.1\r\nConnection: Close\r\n\r\n", true, 38, "/c", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, n, ok := parse([]byte(tt.in))
			if ok != tt.ok || n != tt.size || req.path != tt.path || req.close != tt.close {
				t.Errorf("parse = %+v, %d, %v; want path %q close %v, %d, %v", req, n, ok, tt.path, tt.close, tt.size, tt.ok)
			}
		})
	}
}
