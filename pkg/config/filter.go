// Decoding of the filter section and of ports.
package config

import (
	"gopkg.in/yaml.v3"

	"github.com/httptrace/httptrace/pkg/filter"
)

// filterKeys are the keys the filter section takes.
const filterKeys = "status, min_latency, path, method, side or host"

// filter decodes the filter mapping into Config.Filter; each bad value
// names its own line.
func (d *decoder) filter(n *yaml.Node) error {
	f := &d.cfg.Filter
	return d.mapping(n, "filter", func(k string, kn, v *yaml.Node) error {
		key := "filter." + k
		switch k {
		case "status":
			return d.each(v, key, func(item *yaml.Node, s string) error {
				st, err := filter.ParseStatuses(s)
				f.Statuses = append(f.Statuses, st...)
				return d.wrap(item, key, err)
			})
		case "min_latency":
			s, err := d.str(v, key)
			if err != nil {
				return err
			}
			f.MinLatency, err = filter.ParseLatency(s)
			return d.wrap(v, key, err)
		case "path":
			return d.each(v, key, func(item *yaml.Node, s string) error {
				p, err := filter.ParsePath(s)
				f.Paths = append(f.Paths, p)
				return d.wrap(item, key, err)
			})
		case "method":
			return d.each(v, key, func(item *yaml.Node, s string) error {
				m, err := filter.ParseMethods(s)
				f.Methods = append(f.Methods, m...)
				return d.wrap(item, key, err)
			})
		case "side":
			s, err := d.str(v, key)
			if err != nil {
				return err
			}
			f.Side, err = filter.ParseSide(s)
			return d.wrap(v, key, err)
		case "host":
			return d.each(v, key, func(item *yaml.Node, s string) error {
				h, err := filter.ParseHosts(s)
				f.Hosts = append(f.Hosts, h...)
				return d.wrap(item, key, err)
			})
		}
		return d.fail(kn, key, "unknown key (want %s)", filterKeys)
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
