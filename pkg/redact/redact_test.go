package redact

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/pkg/record"
)

func mustNew(t testing.TB, o Options) *Redactor {
	t.Helper()
	r, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestHeaders(t *testing.T) {
	o := DefaultOptions()
	o.Headers = []string{"X-Session"}
	r := mustNew(t, o)
	cases := []struct {
		name, value, want string
	}{
		{"Authorization", "Bearer abc", Mask},
		{"authorization", "Basic dXNlcjpwYXNz", Mask},
		{"Proxy-Authorization", "Basic eA==", Mask},
		{"PROXY-AUTHORIZATION", "x", Mask},
		{"Cookie", "sid=1; theme=dark", Mask},
		{"Set-Cookie", "sid=1; HttpOnly", Mask},
		{"set-cookie", "a=b", Mask},
		{"X-Api-Key", "k123", Mask},
		{"x-api-key", "k123", Mask},
		{"X-Auth-Token", "t", Mask},
		{"X-AUTH-TOKEN", "t", Mask},
		{"X-Session", "s", Mask}, // from Options.Headers
		{"x-session", "s", Mask},
		{"Authorization", "", ""}, // nothing to hide
		{"Host", "example.com", "example.com"},
		{"X-Api-Keys", "not the same name", "not the same name"},
		{"Authorizatio", "x", "x"},
		{"Content-Type", "text/plain", "text/plain"},
	}
	for _, tc := range cases {
		// The request's and the response's headers, and HTTP/2's trailers of each.
		for where := range 4 {
			e := &record.Exchange{}
			hs := []record.Header{{Name: "Accept", Value: "*/*"}, {Name: tc.name, Value: tc.value}}
			*[]*[]record.Header{&e.Headers, &e.ResponseHeaders, &e.RequestTrailers, &e.Trailers}[where] = hs
			r.Apply(e)
			if hs[1].Value != tc.want || hs[0].Value != "*/*" || hs[1].Name != tc.name {
				t.Errorf("%s: %q (place %d) became %+v, want value %q", tc.name, tc.value, where, hs, tc.want)
			}
		}
	}
}

func TestQuery(t *testing.T) {
	cases := []struct {
		name, path, want string
		query            []string // nil: the default list
	}{
		{"no query", "/a/b", "/a/b", nil},
		{"empty query", "/a?", "/a?", nil},
		{"start", "/a?token=abc&x=1", "/a?token=[redacted]&x=1", nil},
		{"middle", "/a?x=1&password=hunter2&y=2", "/a?x=1&password=[redacted]&y=2", nil},
		{"end", "/a?x=1&sig=f00d", "/a?x=1&sig=[redacted]", nil},
		{"only", "/?access_token=a.b.c", "/?access_token=[redacted]", nil},
		{"repeated", "/a?key=1&key=2&x=key&key=3", "/a?key=[redacted]&key=[redacted]&x=key&key=[redacted]", nil},
		{"every default", "/?token=1&access_token=2&password=3&passwd=4&secret=5&api_key=6&apikey=7&key=8&sig=9&signature=10",
			"/?token=[redacted]&access_token=[redacted]&password=[redacted]&passwd=[redacted]&secret=[redacted]&api_key=[redacted]&apikey=[redacted]&key=[redacted]&sig=[redacted]&signature=[redacted]", nil},
		{"case", "/a?TOKEN=x&Api_Key=y", "/a?TOKEN=[redacted]&Api_Key=[redacted]", nil},
		{"encoded name", "/a?access%5Ftoken=x&%6B%65%79=y&api%5fkey=z", "/a?access%5Ftoken=[redacted]&%6B%65%79=[redacted]&api%5fkey=[redacted]", nil},
		{"plus is a space", "/a?my+key=x", "/a?my+key=x", nil},
		{"not a substring", "/a?monkey=x&keys=y&tokens=z&xkey=w", "/a?monkey=x&keys=y&tokens=z&xkey=w", nil},
		{"bad escape", "/a?ke%y=x&key%=y&%zz=1", "/a?ke%y=x&key%=y&%zz=1", nil},
		{"no value", "/a?token&key=&sig=1", "/a?token&key=&sig=[redacted]", nil},
		{"value keeps encoding of others", "/a%20b?x=%41&token=%2F%2f&y=a+b", "/a%20b?x=%41&token=[redacted]&y=a+b", nil},
		{"value with =", "/a?token=a=b=c&x=1", "/a?token=[redacted]&x=1", nil},
		{"fragment left alone", "/a?token=x#token=y", "/a?token=[redacted]#token=y", nil},
		{"name in path only", "/token=x/key=y", "/token=x/key=y", nil},
		{"empty params", "/a?&&token=x&&", "/a?&&token=[redacted]&&", nil},
		{"absolute form", "http://h:80/p?key=1", "http://h:80/p?key=[redacted]", nil},
		{"own list replaces", "/a?key=1&session=2", "/a?key=1&session=[redacted]", []string{"session"}},
		{"own list case", "/a?SID=1", "/a?SID=[redacted]", []string{"sid"}},
		{"empty list", "/a?token=1", "/a?token=1", []string{}},
		{"name with space", "/a?my+key=x&my%20key=y", "/a?my+key=[redacted]&my%20key=[redacted]", []string{"My Key"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			if tc.query != nil {
				o.Query = tc.query
			}
			r := mustNew(t, o)
			e := &record.Exchange{Path: tc.path}
			r.Apply(e)
			if e.Path != tc.want {
				t.Errorf("%q became\n%q, want\n%q", tc.path, e.Path, tc.want)
			}
		})
	}
}

var hashed = regexp.MustCompile(`^\[hmac:[0-9a-f]{12}\]$`)

func TestHashMode(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{Mode: ModeHash, Query: DefaultQuery(), KeyFile: keyFile}
	a, b := mustNew(t, o), mustNew(t, o)
	apply := func(r *Redactor, auth, path string) (string, string) {
		e := &record.Exchange{Path: path, Headers: []record.Header{{Name: "Authorization", Value: auth}}}
		r.Apply(e)
		return e.Headers[0].Value, e.Path
	}
	h1, p1 := apply(a, "Bearer one", "/x?token=one")
	h2, p2 := apply(b, "Bearer one", "/x?token=one")
	h3, p3 := apply(a, "Bearer two", "/x?token=two")
	if !hashed.MatchString(h1) || !hashed.MatchString(h3) {
		t.Fatalf("hash format: %q, %q", h1, h3)
	}
	if h1 != h2 || p1 != p2 {
		t.Errorf("same key, same value, different output: %q %q / %q %q", h1, h2, p1, p2)
	}
	if h1 == h3 || p1 == p3 {
		t.Errorf("different values hash alike: %q %q / %q %q", h1, h3, p1, p3)
	}
	if !strings.HasPrefix(p1, "/x?token=[hmac:") || strings.Contains(p1, "one") {
		t.Errorf("path %q", p1)
	}
	// The same value keyed the same way gives the same hash wherever it is.
	if _, p := apply(a, "", "/x?token=Bearer+one"); p == "/x?token="+h1 {
		t.Errorf("encoded and plain value should not be confused: %q", p)
	}
	if _, p := apply(a, "", "/x?token=Bearer one"); p != "/x?token="+h1 {
		t.Errorf("header and query hashes of one value differ: %q vs %q", p, h1)
	}

	// Another key, or a random one, gives other hashes.
	other := filepath.Join(t.TempDir(), "other")
	if err := os.WriteFile(other, []byte("another"), 0o600); err != nil {
		t.Fatal(err)
	}
	o.KeyFile = other
	if h, _ := apply(mustNew(t, o), "Bearer one", ""); h == h1 || !hashed.MatchString(h) {
		t.Errorf("other key gave %q (first key %q)", h, h1)
	}
	o.KeyFile = ""
	r1, r2 := mustNew(t, o), mustNew(t, o)
	if x, y := r1.replacement("v"), r2.replacement("v"); x == y || !hashed.MatchString(x) {
		t.Errorf("random keys gave %q and %q", x, y)
	}
	// A trailing newline in the key file does not change the key.
	if err := os.WriteFile(keyFile, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	o.KeyFile = keyFile
	if h, _ := apply(mustNew(t, o), "Bearer one", ""); h != h1 {
		t.Errorf("key without newline gave %q, with %q", h, h1)
	}
}

func TestNone(t *testing.T) {
	o := DefaultOptions()
	o.Mode = ModeNone
	if !o.Disabled() || DefaultOptions().Disabled() {
		t.Fatal("Disabled")
	}
	r := mustNew(t, o)
	e := &record.Exchange{Path: "/a?token=x", Headers: []record.Header{{Name: "Cookie", Value: "c"}},
		ResponseHeaders: []record.Header{{Name: "Set-Cookie", Value: "d"}}}
	r.Apply(e)
	if e.Path != "/a?token=x" || e.Headers[0].Value != "c" || e.ResponseHeaders[0].Value != "d" {
		t.Errorf("mode none changed %+v", e)
	}
	var nilRedactor *Redactor
	nilRedactor.Apply(e)
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(o *Options)
		want string // "" for valid
	}{
		{"defaults", func(*Options) {}, ""},
		{"hash with key", func(o *Options) { o.Mode, o.KeyFile = ModeHash, "/k" }, ""},
		{"extra header", func(o *Options) { o.Headers = []string{"X-Session", "x_private.1"} }, ""},
		{"bad mode", func(o *Options) { o.Mode = "blur" }, `redact.mode: "blur" is not a redaction mode (want mask, hash or none)`},
		{"empty mode", func(o *Options) { o.Mode = "" }, `redact.mode: "" is not a redaction mode`},
		{"header with colon", func(o *Options) { o.Headers = []string{"X-A:"} }, `redact.headers: "X-A:" is not a header name`},
		{"header with space", func(o *Options) { o.Headers = []string{"X A"} }, `redact.headers: "X A" is not a header name`},
		{"empty header", func(o *Options) { o.Headers = []string{""} }, `redact.headers: "" is not a header name`},
		{"empty query name", func(o *Options) { o.Query = []string{"token", ""} }, `redact.query: "" is not a query parameter name`},
		{"control in query name", func(o *Options) { o.Query = []string{"a\nb"} }, `redact.query: "a\nb" is not a query parameter name`},
		{"key without hash", func(o *Options) { o.KeyFile = "/k" }, `redact.key_file: a key is used only with mode hash (mode is mask)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := DefaultOptions()
			tc.edit(&o)
			err := o.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate() = %v", err)
			case tc.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.want)):
				t.Errorf("Validate() = %v\nwant %q", err, tc.want)
			}
			if _, newErr := New(o); (newErr == nil) != (err == nil) && o.KeyFile == "" {
				t.Errorf("New() = %v, Validate() = %v", newErr, err)
			}
		})
	}
}

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, path, want string // want "" for success
	}{
		{"missing", filepath.Join(dir, "nope"), "nope: no such file"},
		{"empty", write("empty", nil), "empty: the file is empty"},
		{"only newline", write("nl", []byte("\n")), "nl: the file is empty"},
		{"too big", write("big", make([]byte, MaxKeyBytes+1)), "big: larger than 4096 bytes"},
		{"largest", write("max", []byte(strings.Repeat("k", MaxKeyBytes))), ""},
		{"directory", dir, "is a directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(Options{Mode: ModeHash, KeyFile: tc.path})
			if tc.want == "" {
				if err != nil {
					t.Errorf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
				t.Errorf("New() = %v\nwant it to name %s and say %q", err, tc.path, tc.want)
			}
		})
	}
}

// plain is an exchange with nothing secret in it.
func plain() *record.Exchange {
	return &record.Exchange{
		Method: "GET", Path: "/api/v1/items?page=2&sort=name&monkey=1", Proto: "HTTP/1.1",
		Headers: []record.Header{{Name: "Host", Value: "h"}, {Name: "User-Agent", Value: "curl"},
			{Name: "Accept", Value: "*/*"}, {Name: "Accept-Encoding", Value: "gzip"},
			{Name: "X-Request-Id", Value: "1"}, {Name: "Connection", Value: "keep-alive"}},
		ResponseHeaders: []record.Header{{Name: "Content-Type", Value: "text/plain"}, {Name: "Content-Length", Value: "2"}},
	}
}

func TestNoAllocationWithoutSecrets(t *testing.T) {
	for _, mode := range []string{ModeMask, ModeHash} {
		o := DefaultOptions()
		o.Mode = mode
		r := mustNew(t, o)
		e := plain()
		if n := testing.AllocsPerRun(100, func() { r.Apply(e) }); n != 0 {
			t.Errorf("%s: %v allocations for an exchange without secrets", mode, n)
		}
	}
}

func BenchmarkApply(b *testing.B) {
	for _, bc := range []struct {
		name, mode string
		secrets    bool
	}{{"plain", ModeMask, false}, {"secrets-mask", ModeMask, true}, {"secrets-hash", ModeHash, true}} {
		b.Run(bc.name, func(b *testing.B) {
			o := DefaultOptions()
			o.Mode = bc.mode
			r := mustNew(b, o)
			e := plain()
			b.ReportAllocs()
			for b.Loop() {
				if bc.secrets {
					e.Path = "/api?page=2&token=abcdef"
					e.Headers[4].Value = "Bearer xyz"
					e.Headers[4].Name = "Authorization"
				}
				r.Apply(e)
			}
		})
	}
}

func TestHashConcurrent(t *testing.T) {
	r := mustNew(t, Options{Mode: ModeHash, Query: DefaultQuery()})
	want := r.replacement("v")
	errs := make(chan string, 4)
	for range 4 {
		go func() {
			for range 200 {
				e := &record.Exchange{Path: "/?key=v", Headers: []record.Header{{Name: "Cookie", Value: "v"}}}
				r.Apply(e)
				if e.Path != "/?key="+want || e.Headers[0].Value != want {
					errs <- e.Path + " " + e.Headers[0].Value
					return
				}
			}
			errs <- ""
		}()
	}
	for range 4 {
		if msg := <-errs; msg != "" {
			t.Errorf("concurrent Apply gave %s, want %s", msg, want)
		}
	}
}
