// Decoding of the filter section and of ports.
package config

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/httptrace/httptrace/pkg/filter"
)

// filter decodes the filter mapping into Config.Filter; each bad value
// names its own line. min_latency and side take one string, the others one
// string or a list.
func (d *decoder) filter(n *yaml.Node) error {
	return d.mapping(n, "filter", func(k string, kn, v *yaml.Node) error {
		key := "filter." + k
		if !slices.Contains(filter.Keys, k) {
			last := len(filter.Keys) - 1
			return d.fail(kn, key, "unknown key (want %s or %s)", strings.Join(filter.Keys[:last], ", "), filter.Keys[last])
		}
		if k == "min_latency" || k == "side" {
			s, err := d.str(v, key)
			if err != nil {
				return err
			}
			return d.wrap(v, key, d.cfg.Filter.Add(k, s))
		}
		return d.each(v, key, func(item *yaml.Node, s string) error {
			return d.wrap(item, key, d.cfg.Filter.Add(k, s))
		})
	})
}

// ports reads one port or a list of them.
func (d *decoder) ports(n *yaml.Node) error {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for _, item := range items {
		p, err := d.int(item, "ports")
		if err != nil {
			return err
		}
		if p < 1 || p > 65535 {
			return d.fail(item, "ports", "%d is not a TCP port (want 1 to 65535)", p)
		}
		d.cfg.Ports = append(d.cfg.Ports, p)
	}
	return nil
}

// each calls fn with each string of one string or a list of them.
func (d *decoder) each(n *yaml.Node, key string, fn func(item *yaml.Node, s string) error) error {
	items := []*yaml.Node{n}
	if n.Kind == yaml.SequenceNode {
		items = n.Content
	}
	for _, item := range items {
		s, err := d.str(item, key)
		if err != nil {
			return err
		}
		if err := fn(item, s); err != nil {
			return err
		}
	}
	return nil
}

// wrap puts a value's error at its line.
func (d *decoder) wrap(n *yaml.Node, key string, err error) error {
	if err == nil {
		return nil
	}
	return d.fail(n, key, "%v", err)
}
