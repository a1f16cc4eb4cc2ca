// The TLS part of the program: uprobes on OpenSSL, printing the plaintext's
// first bytes as the syscall returns print theirs.

package bpftrace

import (
	"fmt"
	"strings"

	"github.com/httptrace/httptrace/pkg/probes"
)

// tlsLibrary is how the program names the library: bpftrace finds
// "libssl" through the loader's cache, as the loader would.
const tlsLibrary = "libssl"

// tlsBlocks writes the uprobes of probes.Uprobes for OpenSSL: each entry
// saves the buffer (and, for the _ex forms, where the count goes) per
// thread; each return classifies the plaintext's first bytes.
func tlsBlocks(b *strings.Builder, v scriptVars) {
	var plain, ex []probes.Uprobe
	for _, u := range probes.LibraryUprobes(probes.LibOpenSSL) {
		if strings.HasSuffix(u.Symbol, "_ex") {
			ex = append(ex, u)
		} else {
			plain = append(plain, u)
		}
	}
	specs := func(kind string, us []probes.Uprobe) string {
		var s []string
		for _, u := range us {
			s = append(s, fmt.Sprintf("%s:%s:%s", kind, tlsLibrary, u.Symbol))
		}
		return strings.Join(s, ",\n")
	}
	b.WriteString("// tls: a TLS connection's plaintext, at OpenSSL's read and write (httptrace\n" +
		"// probes every libssl a traced process maps, and OpenSSL linked into an executable;\n" +
		"// this program, the libssl the loader finds). fd=-1: the socket is not known here.\n")
	fmt.Fprintf(b, "%s\n/ %s /\n{\n\t@sslbuf[tid] = uptr(arg1);\n\tdelete(@sslex[tid]);\n}\n\n", specs("uprobe", plain), v.tracked)
	fmt.Fprintf(b, "%s\n/ %s /\n{\n\t@sslbuf[tid] = uptr(arg1);\n\t// Where the count goes: the call returns 1.\n\t@sslex[tid] = uptr(arg3);\n}\n\n", specs("uprobe", ex), v.tracked)
	var body strings.Builder
	body.WriteString("\t$fd = -1;\n\t$b = @sslbuf[tid];\n\t$ret = (int64)(int32)retval;\n" +
		"\tif (@sslex[tid]) {\n\t\t$ret = $ret == 1 ? (int64)*(uint64 *)@sslex[tid] : 0;\n\t}\n" +
		"\t$len = $ret;\n\tdelete(@sslbuf[tid]);\n\tdelete(@sslex[tid]);\n\tif ($ret > 0) {\n")
	body.WriteString("\t\t$seen = $ret;\n")
	fmt.Fprintf(&body, "\t\t$n = $seen < %d ? $seen : %d;\n", v.show, v.show)
	classify(&body, "\t\t")
	body.WriteString("\t}\n")
	fmt.Fprintf(b, "%s\n/ @sslbuf[tid] /\n{\n%s}\n\n", specs("uretprobe", append(plain, ex...)), body.String())
}
