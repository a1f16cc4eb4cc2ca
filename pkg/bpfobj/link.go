package bpfobj

// libbpfgo links no libbpf of its own. Link Debian's static libbpf (1.4, from
// bookworm-backports) and what it needs, so plain `go build` and `go test`
// work without CGO_LDFLAGS.

// #cgo LDFLAGS: -l:libbpf.a -lelf -lz -lzstd
import "C"
