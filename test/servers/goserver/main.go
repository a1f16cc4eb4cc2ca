// Command goserver is a minimal net/http server for tracing tests: it listens
// on the address in its first argument (default 127.0.0.1:0), prints
// "listening ADDR" on stdout once it accepts connections, and answers every
// request with 200 and a small body.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
)

func main() {
	addr := "127.0.0.1:0"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "goserver: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "ok %s %s\n", r.Method, r.URL.Path)
	})
	if err := http.Serve(ln, handler); err != nil {
		fmt.Fprintf(os.Stderr, "goserver: %v\n", err)
		os.Exit(1)
	}
}
