// The user-space half of the probe table: library functions probed with
// uprobes, found per library file at run time.

package probes

import "github.com/httptrace/httptrace/pkg/event"

// Library is a family of user-space libraries whose functions are probed.
type Library string

// The libraries.
const (
	// LibOpenSSL is OpenSSL 1.1 and 3.x: libssl.so.*, or linked into an
	// executable (Node).
	LibOpenSSL Library = "openssl"
	// LibGoTLS is Go's crypto/tls (Go 1.17 and later: the register ABI),
	// in any Go executable, stripped or not.
	LibGoTLS Library = "go-crypto/tls"
)

// Uprobe is one function of a library, with the programs at its entry and
// at its return: a uretprobe, or (AtRETs) a uprobe at each of its RET
// instructions.
type Uprobe struct {
	Library Library
	Symbol  string
	Dir     event.Direction
	Entry   string
	Return  string
	// Required functions must be in a file for it to be probed; the others
	// are probed where the file has them.
	Required bool
	// AtRETs: Go code, whose stacks move, where a uretprobe's rewritten
	// return address would crash the program.
	AtRETs bool
}

// Uprobes lists every library function httptrace probes.
var Uprobes = []Uprobe{
	{LibOpenSSL, "SSL_read", event.Recv, ProgUprobeSSLRead, ProgUretprobeTLS, true, false},
	{LibOpenSSL, "SSL_write", event.Send, ProgUprobeSSLWrite, ProgUretprobeTLS, true, false},
	// Since OpenSSL 1.1.1.
	{LibOpenSSL, "SSL_read_ex", event.Recv, ProgUprobeSSLReadEx, ProgUretprobeTLS, false, false},
	{LibOpenSSL, "SSL_write_ex", event.Send, ProgUprobeSSLWriteEx, ProgUretprobeTLS, false, false},
	{LibGoTLS, "crypto/tls.(*Conn).Read", event.Recv, ProgUprobeGoTLSRead, ProgUprobeGoTLSReadRet, true, true},
	{LibGoTLS, "crypto/tls.(*Conn).Write", event.Send, ProgUprobeGoTLSWrite, ProgUprobeGoTLSWriteRet, true, true},
}

// LibraryUprobes lists the functions probed in one library.
func LibraryUprobes(lib Library) []Uprobe {
	var out []Uprobe
	for _, u := range Uprobes {
		if u.Library == lib {
			out = append(out, u)
		}
	}
	return out
}

// UprobePrograms lists the programs of Uprobes, once each.
func UprobePrograms() []string {
	seen := map[string]bool{}
	var out []string
	for _, u := range Uprobes {
		for _, p := range []string{u.Entry, u.Return} {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}
