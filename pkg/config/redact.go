// Decoding and validation of the redact section.
package config

import (
	"errors"
	"path/filepath"

	"gopkg.in/yaml.v3"

	"github.com/httptrace/httptrace/pkg/redact"
)

// redact decodes the redact mapping into Config.Redact. A relative key_file
// is taken from the configuration file's directory.
func (d *decoder) redact(n *yaml.Node) error {
	return d.mapping(n, "redact", func(k string, kn, v *yaml.Node) error {
		key := "redact." + k
		var err error
		switch k {
		case "mode":
			d.cfg.Redact.Mode, err = d.str(v, key)
		case "headers":
			d.cfg.Redact.Headers, err = d.strs(v, key)
		case "query":
			d.cfg.Redact.Query, err = d.strs(v, key)
		case "key_file":
			var path string
			path, err = d.str(v, key)
			if path != "" && !filepath.IsAbs(path) {
				path = filepath.Join(filepath.Dir(d.file), path)
			}
			d.cfg.Redact.KeyFile = path
		default:
			return d.fail(kn, key, "unknown key (want mode, headers, query or key_file)")
		}
		return err
	})
}

// validateRedact checks Config.Redact, pointing at the key's line.
func (c *Config) validateRedact() error {
	err := c.Redact.Validate()
	if oe := (*redact.OptionError)(nil); errors.As(err, &oe) {
		return c.errorf(oe.Key, "%s", oe.Msg)
	}
	return err
}
