package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/httptrace/httptrace/pkg/probes"
)

// Load reads a YAML file over the defaults. Unknown keys, wrong types and
// bad probe specs are errors naming the file, line and key.
func Load(path string) (Config, error) {
	info, err := os.Stat(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	if !info.Mode().IsRegular() {
		return Config{}, fmt.Errorf("reading config: %s is not a regular file", path)
	}
	if info.Size() > MaxFileBytes {
		return Config{}, fmt.Errorf("reading config: %s is %d bytes, more than the %d a configuration may have", path, info.Size(), MaxFileBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data)
}

// MaxFileBytes is the largest configuration file read.
const MaxFileBytes = 1 << 20

// Parse decodes YAML read from the named file over the defaults.
func Parse(name string, data []byte) (Config, error) {
	c := Default()
	if err := checkText(name, data); err != nil {
		return Config{}, err
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return c, nil // an empty file: all defaults
		}
		return Config{}, syntaxError(name, err)
	}
	d := decoder{file: name, cfg: &c}
	if err := d.top(doc.Content[0]); err != nil {
		return Config{}, err
	}
	return c, nil
}

// decoder walks the YAML tree by hand so every error can name its line.
type decoder struct {
	file string
	cfg  *Config
}

func (d *decoder) at(n *yaml.Node) string { return fmt.Sprintf("%s:%d", d.file, n.Line) }

func (d *decoder) fail(n *yaml.Node, key, format string, args ...any) error {
	return &Error{Where: d.at(n), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// mapping calls fn for each key of a mapping node, rejecting duplicates.
func (d *decoder) mapping(n *yaml.Node, key string, fn func(k string, kn, v *yaml.Node) error) error {
	if n.Kind != yaml.MappingNode {
		what := "the top level"
		if key != "" {
			what = key
		}
		return d.fail(n, what, "want a mapping, got %s", kindName(n))
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, v := n.Content[i], n.Content[i+1]
		full := kn.Value
		if key != "" {
			full = key + "." + kn.Value
		}
		if seen[kn.Value] {
			return d.fail(kn, full, "key given twice")
		}
		seen[kn.Value] = true
		d.cfg.where[full] = d.at(kn)
		if err := fn(kn.Value, kn, v); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) top(n *yaml.Node) error {
	return d.mapping(n, "", func(k string, kn, v *yaml.Node) error {
		switch k {
		case "pids":
			return d.pids(v)
		case "attach":
			s, err := d.str(v, k)
			d.cfg.Attach = probes.Mode(s)
			return err
		case "capture_bytes":
			var err error
			d.cfg.CaptureBytes, err = d.int(v, k)
			return err
		case "log_format":
			var err error
			d.cfg.LogFormat, err = d.str(v, k)
			return err
		case "comm":
			var err error
			d.cfg.Comms, err = d.strs(v, k)
			return err
		case "containers":
			var err error
			d.cfg.Containers, err = d.strs(v, k)
			return err
		case "pods":
			var err error
			d.cfg.Pods, err = d.strs(v, k)
			return err
		case "runtime_socket":
			var err error
			d.cfg.RuntimeSocket, err = d.str(v, k)
			return err
		case "max_header_bytes":
			var err error
			d.cfg.MaxHeaderBytes, err = d.int(v, k)
			return err
		case "capture_body_bytes":
			var err error
			d.cfg.CaptureBodyBytes, err = d.int(v, k)
			return err
		case "exchange_timeout":
			var err error
			d.cfg.ExchangeTimeout, err = d.duration(v, k)
			return err
		case "unix_sockets":
			var err error
			d.cfg.UnixSockets, err = d.bool(v, k)
			return err
		case "tls":
			var err error
			d.cfg.TLS, err = d.bool(v, k)
			return err
		case "probes":
			return d.probes(v)
		case "redact":
			return d.redact(v)
		case "filter":
			return d.filter(v)
		case "ports":
			return d.ports(v)
		case "metrics":
			return d.metrics(v)
		case "routes":
			return d.routes(v)
		case "services":
			return d.services(v)
		case "otlp":
			return d.otlp(v)
		}
		return d.fail(kn, k, "unknown key (want %s)", strings.Join(topKeys, ", "))
	})
}

// topKeys are the keys the top level takes, for the unknown-key message.
var topKeys = []string{"pids", "comm", "ports", "containers", "pods", "runtime_socket", "attach", "capture_bytes", "max_header_bytes",
	"capture_body_bytes", "exchange_timeout", "log_format", "unix_sockets", "tls", "probes", "redact", "filter", "metrics", "routes", "services", "otlp"}

// strs reads one string or a list of strings.
func (d *decoder) strs(n *yaml.Node, key string) ([]string, error) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		s, err := d.str(item, key)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// duration reads a Go duration such as 30s or 2m.
func (d *decoder) duration(n *yaml.Node, key string) (time.Duration, error) {
	s, err := d.str(n, key)
	if err != nil {
		return 0, err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, d.fail(n, key, "%q is not a duration (e.g. 30s, 2m)", s)
	}
	return v, nil
}

func (d *decoder) pids(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return d.fail(n, "pids", "want a list of PIDs, got %s", kindName(n))
	}
	for _, item := range n.Content {
		pid, err := d.int(item, "pids")
		if err != nil {
			return err
		}
		d.cfg.PIDs = append(d.cfg.PIDs, pid)
	}
	return nil
}

func (d *decoder) probes(n *yaml.Node) error {
	return d.mapping(n, "probes", func(k string, kn, v *yaml.Node) error {
		mode := probes.Mode(k)
		plan, ok := d.cfg.Probes[mode]
		if !ok {
			return d.fail(kn, "probes."+k, "unknown attach mode (want kprobe or tracepoint)")
		}
		return d.mapping(v, "probes."+k, func(role string, rn, rv *yaml.Node) error {
			key := "probes." + k + "." + role
			_, hook, ok := probes.Lookup(probes.Role(role))
			if !ok {
				return d.fail(rn, key, "unknown role (want one of %s)", strings.Join(probes.RoleNames(), ", "))
			}
			specs, err := d.specs(rv, key)
			if err != nil {
				return err
			}
			for i, c := range specs {
				for _, s := range c {
					if err := hook.Check(mode, s); err != nil {
						return d.fail(itemNode(rv, i), key, "%v", err)
					}
				}
			}
			plan.Roles[hook.Role] = specs
			return nil
		})
	})
}

// specs reads one probe or a list of them; a probe may name alternatives
// ("A | B").
func (d *decoder) specs(n *yaml.Node, key string) ([]probes.Choice, error) {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
		if len(items) == 0 {
			return nil, d.fail(n, key, "empty list: give at least one probe")
		}
	}
	var out []probes.Choice
	for _, item := range items {
		s, err := d.str(item, key)
		if err != nil {
			return nil, err
		}
		spec, err := probes.ParseChoice(s)
		if err != nil {
			return nil, d.fail(item, key, "%v", err)
		}
		out = append(out, spec)
	}
	return out, nil
}

func (d *decoder) str(n *yaml.Node, key string) (string, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		return "", d.fail(n, key, "want a string, got %s", kindName(n))
	}
	return n.Value, nil
}

func (d *decoder) bool(n *yaml.Node, key string) (bool, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		return false, d.fail(n, key, "want true or false, got %s", kindName(n))
	}
	return n.Value == "true" || n.Value == "True" || n.Value == "TRUE", nil
}

func (d *decoder) int(n *yaml.Node, key string) (int, error) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		return 0, d.fail(n, key, "want a whole number, got %s", kindName(n))
	}
	v, err := strconv.ParseInt(n.Value, 0, 32)
	if err != nil {
		return 0, d.fail(n, key, "%q is out of range", n.Value)
	}
	return int(v), nil
}

// syntaxError puts yaml's "line N: msg" in the file:line form of the
// other errors.
func syntaxError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
		_, rest, _ := strings.Cut(msg, ": ")
		return fmt.Errorf("%s:%d: %s", name, line, rest)
	}
	// yaml leaves out the line when it is the first.
	return fmt.Errorf("%s:1: %s", name, msg)
}

// itemNode is the node of the i-th spec, for pointing at the right line.
func itemNode(n *yaml.Node, i int) *yaml.Node {
	if n.Kind == yaml.SequenceNode {
		return n.Content[i]
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	if n.Tag == "!!null" {
		return "nothing"
	}
	return fmt.Sprintf("%q (%s)", n.Value, printable(strings.TrimPrefix(n.Tag, "!!")))
}
