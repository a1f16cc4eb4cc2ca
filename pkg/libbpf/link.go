// Package libbpf links Debian's static libbpf (1.4, from bookworm-backports)
// and what it needs. libbpfgo links no libbpf of its own; every package that
// loads BPF objects imports this one for its effect, so plain `go build` and
// `go test` work without CGO_LDFLAGS.
package libbpf

// #cgo LDFLAGS: -l:libbpf.a -lelf -lz -lzstd
import "C"
