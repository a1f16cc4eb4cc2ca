// Command syscallserver serves HTTP/1.1 through one chosen syscall per
// direction (see package syscalls). It builds statically with
// CGO_ENABLED=0, for guests that have only busybox.
package main

import (
	"fmt"
	"os"

	"github.com/httptrace/httptrace/test/servers/syscalls"
)

func main() {
	if err := syscalls.Serve(os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "syscallserver: %v\n", err)
		os.Exit(1)
	}
}
