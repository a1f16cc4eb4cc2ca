// Command goserver is the test suite's Go net/http server as a program of
// its own, for make demo: it listens on the address in its first argument
// (default 127.0.0.1:0) and prints "listening ADDR" once it accepts
// connections.
package main

import (
	"fmt"
	"os"

	"github.com/httptrace/httptrace/test/harness"
)

func main() {
	addr := "127.0.0.1:0"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	if err := harness.Serve(addr); err != nil {
		fmt.Fprintf(os.Stderr, "goserver: %v\n", err)
		os.Exit(1)
	}
}
