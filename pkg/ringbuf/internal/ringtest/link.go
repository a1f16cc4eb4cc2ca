package ringtest

// libbpfgo links no libbpf of its own: link Debian's static libbpf and what
// it needs, as pkg/bpfobj does for the tool, so plain `go test` works.

// #cgo LDFLAGS: -l:libbpf.a -lelf -lz -lzstd
import "C"
