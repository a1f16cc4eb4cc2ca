// Command goserver is the test suite's Go net/http server as a program of
// its own, for make demo, make bench and the tests of stripped Go binaries:
// it listens on the address in its first argument (default 127.0.0.1:0),
// serving HTTPS when a certificate and key file follow, or HTTP/2 without
// TLS (h2c, and HTTP/1.1) when the second argument is "h2c", or gRPC
// (grpc-go, its health service) when it is "grpc", and prints
// "listening ADDR" once it accepts connections.
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
	var cert, key string
	if len(os.Args) > 3 {
		cert, key = os.Args[2], os.Args[3]
	}
	serve := func() error { return harness.ServeTLS(addr, cert, key) }
	if len(os.Args) == 3 {
		switch os.Args[2] {
		case "h2c":
			serve = func() error { return harness.ServeH2C(addr) }
		case "grpc":
			serve = func() error { return harness.ServeGRPC(addr) }
		}
	}
	if err := serve(); err != nil {
		fmt.Fprintf(os.Stderr, "goserver: %v\n", err)
		os.Exit(1)
	}
}
