// Package redact hides secrets in exchanges before any sink sees them:
// the values of credential headers and of secret query parameters.
package redact

import (
	"fmt"
	"slices"
	"strings"
)

// The modes: what a secret value is replaced with.
const (
	ModeMask = "mask" // the fixed text Mask
	ModeHash = "hash" // a short keyed hash, "[hmac:" + 12 hex digits + "]"
	ModeNone = "none" // nothing is redacted
)

// Mask is what a secret value is replaced with in mask mode.
const Mask = "[redacted]"

// defaultHeaders are always redacted (names compare case-insensitively).
var defaultHeaders = []string{
	"Authorization", "Proxy-Authorization", "Cookie", "Set-Cookie", "X-Api-Key", "X-Auth-Token",
}

// defaultQuery is the query parameter list unless the configuration
// replaces it.
var defaultQuery = []string{
	"token", "access_token", "password", "passwd", "secret", "api_key", "apikey", "key", "sig", "signature",
}

// Options say what to redact and how.
type Options struct {
	// Mode is ModeMask, ModeHash or ModeNone.
	Mode string
	// Headers are redacted in addition to the built-in list
	// (Authorization, Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key,
	// X-Auth-Token), in requests and responses.
	Headers []string
	// Query names the request path's query parameters whose values are
	// redacted. It replaces the default list (so a name that is no secret
	// where you are, such as key, can be dropped); empty means none.
	Query []string
	// KeyFile holds the HMAC key for ModeHash; without it each run draws a
	// random key, so hashes correlate within a run only.
	KeyFile string
}

// DefaultOptions is mask mode with the default lists.
func DefaultOptions() Options {
	return Options{Mode: ModeMask, Query: slices.Clone(defaultQuery)}
}

// DefaultQuery returns the default list of secret query parameters.
func DefaultQuery() []string { return slices.Clone(defaultQuery) }

// Disabled reports whether nothing will be redacted.
func (o Options) Disabled() bool { return o.Mode == ModeNone }

// OptionError is a bad option, named by its configuration key.
type OptionError struct {
	Key string // e.g. "redact.mode"
	Msg string
}

func (e *OptionError) Error() string { return e.Key + ": " + e.Msg }

func optionErr(key, format string, args ...any) error {
	return &OptionError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks the options; an error is an *OptionError naming the key.
func (o Options) Validate() error {
	switch o.Mode {
	case ModeMask, ModeHash, ModeNone:
	default:
		return optionErr("redact.mode", "%q is not a redaction mode (want mask, hash or none)", o.Mode)
	}
	for _, h := range o.Headers {
		if !isToken(h) {
			return optionErr("redact.headers", "%q is not a header name", h)
		}
	}
	for _, q := range o.Query {
		if q == "" || hasControl(q) {
			return optionErr("redact.query", "%q is not a query parameter name", q)
		}
	}
	if o.KeyFile != "" && o.Mode != ModeHash {
		return optionErr("redact.key_file", "a key is used only with mode hash (mode is %s)", o.Mode)
	}
	return nil
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2), the
// syntax of a header name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c < 0x7f && c > ' ' && !isDelimiter(c):
		default:
			return false
		}
	}
	return true
}

// delimiters are the visible ASCII characters a token may not hold.
const delimiters = `"(),/:;<=>?@[\]{}`

func isDelimiter(c byte) bool { return strings.IndexByte(delimiters, c) >= 0 }

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}
