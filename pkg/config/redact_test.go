package config

import (
	"fmt"
	"strings"
	"testing"

	"github.com/httptrace/httptrace/pkg/redact"
)

func TestRedactDefaults(t *testing.T) {
	c, err := Parse("e.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(c.Redact) != fmt.Sprint(redact.DefaultOptions()) {
		t.Errorf("Redact = %+v, want the defaults", c.Redact)
	}
}

func TestExampleRedactIsDefault(t *testing.T) {
	c, err := Load("../../configs/httptrace.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := redact.DefaultOptions()
	want.Headers = []string{}
	if fmt.Sprint(c.Redact) != fmt.Sprint(want) {
		t.Errorf("example redact = %+v, want the defaults %+v", c.Redact, want)
	}
}

func TestRedactValues(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       redact.Options
	}{
		{"all keys", `
redact:
  mode: hash
  headers: [X-Session, X-Csrf-Token]
  query: [sid]
  key_file: /etc/httptrace/key
`, redact.Options{Mode: "hash", Headers: []string{"X-Session", "X-Csrf-Token"}, Query: []string{"sid"}, KeyFile: "/etc/httptrace/key"}},
		{"relative key file", "redact:\n  mode: hash\n  key_file: keys/k\n",
			redact.Options{Mode: "hash", Query: redact.DefaultQuery(), KeyFile: "/srv/conf/keys/k"}},
		{"empty query list", "redact:\n  query: []\n", redact.Options{Mode: "mask", Query: []string{}}},
		{"none", "redact:\n  mode: none\n", redact.Options{Mode: "none", Query: redact.DefaultQuery()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("/srv/conf/c.yaml", []byte("pids: [1]\n"+tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%#v", c.Redact) != fmt.Sprintf("%#v", tc.want) {
				t.Errorf("Redact = %#v\nwant %#v", c.Redact, tc.want)
			}
		})
	}
}

func TestRedactErrors(t *testing.T) {
	cases := []struct {
		name, yaml, want string
	}{
		{"not a mapping", "redact: mask\n", `c.yaml:2: redact: want a mapping, got "mask" (str)`},
		{"unknown key", "redact:\n  mode: mask\n  level: 3\n", `c.yaml:4: redact.level: unknown key (want mode, headers, query or key_file)`},
		{"mode type", "redact:\n  mode: [mask]\n", `c.yaml:3: redact.mode: want a string, got a list`},
		{"headers a mapping", "redact:\n  headers: {X-Session: 1}\n", `c.yaml:3: redact.headers: want a string, got a mapping`},
		{"header not a string", "redact:\n  headers:\n    - X-A\n    - 12\n", `c.yaml:5: redact.headers: want a string, got "12" (int)`},
		{"query given twice", "redact:\n  query: [a]\n  query: [b]\n", `c.yaml:4: redact.query: key given twice`},
		{"bad mode", "redact:\n  mode: blur\n", `c.yaml:3: redact.mode: "blur" is not a redaction mode (want mask, hash or none)`},
		{"bad header", "redact:\n  headers: [\"X A\"]\n", `c.yaml:3: redact.headers: "X A" is not a header name`},
		{"empty query name", "redact:\n  query: [\"\"]\n", `c.yaml:3: redact.query: "" is not a query parameter name`},
		{"key without hash", "redact:\n  key_file: /k\n", `c.yaml:3: redact.key_file: a key is used only with mode hash (mode is mask)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("c.yaml", []byte("pids: [1]\n"+tc.yaml))
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v\nwant prefix %q", err, tc.want)
			}
		})
	}
}
