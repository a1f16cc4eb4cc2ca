// Package gotlsprog builds, for tests, a Go program that links crypto/tls's
// Conn.Read and Conn.Write over TCP (so the net types are linked in too).
package gotlsprog

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Source is the program.
const Source = `package main

import (
	"crypto/tls"
	"fmt"
	"os"
)

func main() {
	if len(os.Args) > 5 {
		c, err := tls.Dial("tcp", os.Args[1], &tls.Config{})
		if err != nil {
			return
		}
		b := make([]byte, 8)
		n, err1 := c.Read(b)
		m, err2 := c.Write(b)
		fmt.Println(n, m, err1, err2)
	}
}
`

// Build builds the program in a temporary directory with the go build
// flags and environment given (CGO_ENABLED=0 unless env says otherwise)
// and returns its path; it skips the test when go is not installed.
func Build(t testing.TB, name string, env []string, flags ...string) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not installed")
	}
	dir := t.TempDir()
	for file, body := range map[string]string{"main.go": Source, "go.mod": "module example.com/t\n\ngo 1.21\n"} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", out, ".")...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GO111MODULE=on"), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %v: %v\n%s", flags, err, b)
	}
	return out
}
