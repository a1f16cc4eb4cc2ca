package route

import (
	"testing"
)

func TestRoute(t *testing.T) {
	r, err := NewRouter([]string{"/users/{id}", "/static/*", "/api/v1/orders/{order}/items", "/"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ target, want string }{
		{"/users/42", "/users/{id}"},
		{"/users/alice?x=1", "/users/{id}"},
		{"/users/", "/users/"},                   // an empty segment: not the template, nothing to collapse
		{"/users/42/posts", "/users/{id}/posts"}, // not the template (longer): the heuristic
		{"/static/css/site.css", "/static/*"},
		{"/static/", "/static/*"},
		{"/static", "/static"},
		{"/photos/123.jpg", "/photos/{id}"},
		{"/reports/2024-01-05", "/reports/{id}"},
		{"/js/jquery-3.7.1.min.js", "/js/jquery-3.7.1.min.js"},
		{"/css/bootstrap-5.3.2.min.css", "/css/bootstrap-5.3.2.min.css"},
		{"/cart;jsessionid=ABC123DEF456", "/cart"},
		{"/v1.2/items", "/v1.2/items"},
		{"/api/v1/orders/9f8e7d6c5b/items", "/api/v1/orders/{order}/items"},
		{"/", "/"},
		{"/orders/123e4567-e89b-12d3-a456-426614174000", "/orders/{id}"},
		{"/blobs/deadbeef12", "/blobs/{id}"},
		{"/blobs/deadbeef", "/blobs/deadbeef"}, // hex letters only: a word
		{"/t/AbCdEf0123456789xyz/x", "/t/{id}/x"},
		{"/v2/health", "/v2/health"},
		{"/items/2024/summary#top", "/items/{id}/summary"},
		{"http://example.com/users/7", "/users/{id}"},
		{"http://example.com", "/"},
		{"*", "*"},
		{"example.com:443", "/"},
	} {
		if got := r.Route(c.target); got != c.want {
			t.Errorf("Route(%q) = %q, want %q", c.target, got, c.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"users", "/a/*/b", "/a/x{id}", "/a//b", "/a/{}", "/a/{b*}"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		}
	}
}

func TestIDLike(t *testing.T) {
	for seg, want := range map[string]bool{
		"123": true, "0": true, "v1": false, "users": false, "deadbeef": false, "deadbeef1": true,
		"123e4567-e89b-12d3-a456-426614174000": true, "index.html": false, "abcdefghijklmnopqrstu": false,
		"a1b2c3d4e5f6g7h8": true, "": false, "2fa": false, "user@example": false,
		"123.jpg": true, "42.json": true, "2024-01-05": true, "1.2.3": false, "jquery-3.7.1.min.js": false,
		"index.v2.html": false, "AbCdEfGhIjKlMnOp1": false, "AbCdEfGhIjKlMnO12": true,
	} {
		if got := IDLike(seg); got != want {
			t.Errorf("IDLike(%q) = %v, want %v", seg, got, want)
		}
	}
}

// AppendRoute into a buffer with room allocates nothing.
func TestAppendRouteAllocs(t *testing.T) {
	r, _ := NewRouter([]string{"/static/*"})
	buf := make([]byte, 0, 128)
	for _, tc := range []struct{ target, want string }{
		{"/users/123/posts/9?x=1", "/users/{id}/posts/{id}"},
		{"/static/site/main.css", "/static/*"},
		{"/1/1/1", "/{id}/{id}/{id}"},
		{"/health", "/health"},
	} {
		if n := testing.AllocsPerRun(100, func() { buf = r.AppendRoute(buf[:0], tc.target) }); n != 0 || string(buf) != tc.want {
			t.Errorf("AppendRoute(%s): %q with %v allocations, want %q", tc.target, buf, n, tc.want)
		}
	}
}
