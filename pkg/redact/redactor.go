// The Redactor: applies Options to exchanges in place.
package redact

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/httptrace/httptrace/pkg/record"
)

// MaxKeyBytes is the largest key file accepted.
const MaxKeyBytes = 4096

// hashHexDigits is how much of the HMAC is printed: 48 bits, enough to tell
// values apart in a log, too little to stand for the value.
const hashHexDigits = 12

// Redactor replaces secret values in exchanges. Its methods are safe for
// concurrent use; a nil *Redactor redacts nothing.
type Redactor struct {
	mode    string
	headers []string
	query   []string
	// byLen[n] are the secret header names n bytes long.
	byLen [][]string
	// queryFirst has the bytes a secret query name may start with when
	// encoded: each name's first byte in both cases, '%' and '+'.
	queryFirst [256]bool

	mu  sync.Mutex // guards mac and sum (hash mode)
	mac hash.Hash
	sum []byte
}

// New makes a Redactor. In hash mode the HMAC-SHA256 key is read from
// o.KeyFile, or drawn at random for this run when none is given.
func New(o Options) (*Redactor, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	r := &Redactor{
		mode:    o.Mode,
		headers: append(slices.Clone(defaultHeaders), o.Headers...),
		query:   slices.Clone(o.Query),
	}
	for _, h := range r.headers {
		for len(r.byLen) <= len(h) {
			r.byLen = append(r.byLen, nil)
		}
		r.byLen[len(h)] = append(r.byLen[len(h)], h)
	}
	r.queryFirst['%'], r.queryFirst['+'] = true, true
	for _, q := range r.query {
		r.queryFirst[lower(q[0])] = true
		r.queryFirst[upper(q[0])] = true
	}
	if o.Mode == ModeHash {
		key, err := hashKey(o.KeyFile)
		if err != nil {
			return nil, err
		}
		r.mac = hmac.New(sha256.New, key)
		r.sum = make([]byte, 0, sha256.Size)
	}
	return r, nil
}

// hashKey reads the key file, or makes a random key when path is empty.
func hashKey(path string) ([]byte, error) {
	if path == "" {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("making a redaction key: %w", err)
		}
		return key, nil
	}
	return ReadKey(path)
}

// ReadKey reads an HMAC key file: at most MaxKeyBytes, not empty once a
// trailing newline is dropped. Errors name the path.
func ReadKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("redaction key: %w", err)
	}
	defer f.Close()
	key, err := io.ReadAll(io.LimitReader(f, MaxKeyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("redaction key %s: %w", path, err)
	}
	if len(key) > MaxKeyBytes {
		return nil, fmt.Errorf("redaction key %s: larger than %d bytes", path, MaxKeyBytes)
	}
	key = bytes.TrimRight(key, "\r\n")
	if len(key) == 0 {
		return nil, fmt.Errorf("redaction key %s: the file is empty", path)
	}
	return key, nil
}

// Apply redacts e in place: the values of secret headers (and trailers)
// in the request and the response, and of secret query parameters in the request path. Empty
// values stay empty. It allocates nothing when nothing matches.
func (r *Redactor) Apply(e *record.Exchange) {
	if r == nil || r.mode == ModeNone {
		return
	}
	r.redactHeaders(e.Headers)
	r.redactHeaders(e.ResponseHeaders)
	r.redactHeaders(e.RequestTrailers)
	r.redactHeaders(e.Trailers)
	e.Path = r.redactPath(e.Path)
}

func (r *Redactor) redactHeaders(hs []record.Header) {
	for i := range hs {
		if hs[i].Value != "" && r.secretHeader(hs[i].Name) {
			hs[i].Value = r.replacement(hs[i].Value)
		}
	}
}

func (r *Redactor) secretHeader(name string) bool {
	if len(name) >= len(r.byLen) {
		return false
	}
	for _, h := range r.byLen[len(name)] {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// replacement is what a secret value v is printed as.
func (r *Redactor) replacement(v string) string {
	if r.mode != ModeHash {
		return Mask
	}
	r.mu.Lock()
	r.mac.Reset()
	io.WriteString(r.mac, v)
	r.sum = r.mac.Sum(r.sum[:0])
	var out [len("[hmac:]") + hashHexDigits]byte
	n := copy(out[:], "[hmac:")
	hex.Encode(out[n:n+hashHexDigits], r.sum[:hashHexDigits/2])
	r.mu.Unlock()
	out[len(out)-1] = ']'
	return string(out[:])
}
