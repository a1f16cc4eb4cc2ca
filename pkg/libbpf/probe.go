package libbpf

/*
#include <errno.h>
#include <bpf/libbpf.h>

// loop_supported asks whether tracepoint programs may call bpf_loop: 1, 0,
// or a negative errno when libbpf could not tell.
static int loop_supported(void)
{
	return libbpf_probe_bpf_helper(BPF_PROG_TYPE_TRACEPOINT, BPF_FUNC_loop, NULL);
}
*/
import "C"

import (
	"fmt"
	"syscall"
)

// LoopSupported asks the kernel whether tracing programs may call bpf_loop:
// libbpf loads a small program that calls it. Only libbpf's answer counts:
// that program is refused for its arguments where the helper exists, which
// libbpf reads as supported although errno is left set.
func LoopSupported() (bool, error) {
	r := C.loop_supported()
	if r < 0 {
		return false, fmt.Errorf("probing bpf_loop: %w", syscall.Errno(-r))
	}
	return r == 1, nil
}
