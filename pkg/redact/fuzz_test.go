package redact

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzRedactPath checks, for any request target, that redaction does not
// panic, changes nothing but the values of secret parameters, replaces each
// of those (when not empty) with the mask, and so never lets the original
// value through.
func FuzzRedactPath(f *testing.F) {
	for _, seed := range []string{
		"/", "/a?token=x", "/a?x=1&password=p&y=2", "/?key=1&key=2", "/?monkey=1", "/?%6Bey=v",
		"/?token=a#frag", "/?&&=&key", "/?key=%zz%", "/p?ACCESS_TOKEN=a=b&sig=",
	} {
		f.Add(seed)
	}
	keyFile := filepath.Join(f.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte("fuzz"), 0o600); err != nil {
		f.Fatal(err)
	}
	mask, err := New(DefaultOptions())
	if err != nil {
		f.Fatal(err)
	}
	hash, err := New(Options{Mode: ModeHash, Query: DefaultQuery(), KeyFile: keyFile})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, path string) {
		checkRedacted(t, path, mask.redactPath(path), func(v string) bool { return v == Mask })
		checkRedacted(t, path, hash.redactPath(path), hashed.MatchString)
	})
}

// checkRedacted compares a path with its redacted form, using net/url to
// decode parameter names.
func checkRedacted(t *testing.T, in, out string, isMask func(string) bool) {
	t.Helper()
	inBase, inQuery, inFrag := splitTarget(in)
	outBase, outQuery, outFrag := splitTarget(out)
	if inBase != outBase || inFrag != outFrag {
		t.Fatalf("%q became %q: outside the query changed", in, out)
	}
	inParams, outParams := strings.Split(inQuery, "&"), strings.Split(outQuery, "&")
	if len(inParams) != len(outParams) {
		t.Fatalf("%q became %q: parameters split differently", in, out)
	}
	var skeleton []string // the parameters, redacted values as "\x00"
	var secrets, masks []string
	for i, ip := range inParams {
		op := outParams[i]
		iname, ival, ihas := strings.Cut(ip, "=")
		oname, oval, _ := strings.Cut(op, "=")
		if ip != op {
			if !ihas || ival == "" || iname != oname || !isMask(oval) {
				t.Fatalf("%q became %q: parameter %q rewritten as %q", in, out, ip, op)
			}
			secrets = append(secrets, ival)
			masks = append(masks, oval)
			skeleton = append(skeleton, iname+"=\x00")
		} else {
			skeleton = append(skeleton, ip)
		}
		decoded, err := url.QueryUnescape(iname)
		if err == nil && ihas && ival != "" && slices.ContainsFunc(DefaultQuery(), func(s string) bool {
			return strings.EqualFold(s, decoded) && len(s) == len(decoded)
		}) && ip == op {
			t.Fatalf("%q: secret parameter %q left as it was", in, ip)
		}
		if err == nil && ip != op && !slices.ContainsFunc(DefaultQuery(), func(s string) bool {
			return strings.EqualFold(s, decoded) && len(s) == len(decoded)
		}) {
			t.Fatalf("%q: parameter %q (name %q) redacted though not secret", in, ip, decoded)
		}
	}
	// The literal property: a redacted value that occurs nowhere else in
	// the input, and cannot be spelled by the mask or across its brackets,
	// is not in the output.
	rest := inBase + "?" + strings.Join(skeleton, "&") + "#" + inFrag
	for _, v := range secrets {
		if strings.ContainsAny(v, "[]\x00") || strings.Contains(rest, v) ||
			slices.ContainsFunc(masks, func(m string) bool { return strings.Contains(m, v) }) {
			continue
		}
		if strings.Contains(out, v) {
			t.Fatalf("%q became %q: secret value %q is still there", in, out, v)
		}
	}
}

// splitTarget cuts a request target into the part before '?', the query,
// and the fragment (with their separators dropped, and "\x00" standing for
// a missing query or fragment).
func splitTarget(p string) (base, query, frag string) {
	base, rest, ok := strings.Cut(p, "?")
	if !ok {
		return base, "\x00", "\x00"
	}
	query, frag, ok = strings.Cut(rest, "#")
	if !ok {
		frag = "\x00"
	}
	return base, query, frag
}
