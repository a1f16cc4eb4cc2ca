package redact

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestLookupsMatchTheLists: the header lookup by length and the query
// lookup behind its first-byte filter answer as going through every name
// of the lists does.
func TestLookupsMatchTheLists(t *testing.T) {
	r, err := New(Options{Mode: ModeMask, Headers: []string{"X-Secret", "k"},
		Query: []string{"token", "Key", "_sig", " x", "a.b"}})
	if err != nil {
		t.Fatal(err)
	}
	headerSpec := func(name string) bool {
		for _, h := range r.headers {
			if len(h) == len(name) && strings.EqualFold(h, name) {
				return true
			}
		}
		return false
	}
	querySpec := func(encoded string) bool {
		for _, name := range r.query {
			if nameIs(encoded, name) {
				return true
			}
		}
		return false
	}
	names := []string{"", "k", "K", "Cookie", "cookie", "Server", "x-secret", "X-SECRET", "X-Secrets",
		"authorization", "Proxy-Authorization", "Set-Cookie", "x-api-key", "X-Auth-Token", "Content-Type",
		"token", "TOKEN", "%74oken", "%54OKEN", "key", "KEY", "%4bey", "_sig", "%5fsig", "+x", " x", "%20x",
		"a.b", "a%2eb", "tok", "tokens", "Key+", "\x80", "\xff"}
	rng := rand.New(rand.NewPCG(9, 10))
	alphabet := "kKeEyY%2b4B5fF_sig+ x.atoTnN\x80"
	for range 100_000 {
		b := make([]byte, rng.IntN(8))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		names = append(names, string(b))
	}
	for _, n := range names {
		if got, want := r.secretHeader(n), headerSpec(n); got != want {
			t.Fatalf("secretHeader(%q) = %v, want %v", n, got, want)
		}
		if got, want := r.secretParam(n), querySpec(n); got != want {
			t.Fatalf("secretParam(%q) = %v, want %v", n, got, want)
		}
	}
}
