package main

import (
	"fmt"
	"io"
)

// runBpftrace prints the bpftrace program equivalent to a configuration.
func runBpftrace(args []string, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "httptrace bpftrace: not available yet")
	return exitUsage
}
