package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestUsageErrors checks bad input gives exit status 2 and one line on
// stderr that says what and where, with nothing on stdout.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("pids: [1]\nattach: kprobe\ncapture: 10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"--colour"}, "httptrace: flag provided but not defined: -colour (see httptrace --help)"},
		{"stray argument", []string{"--pid", "1", "extra"}, `httptrace: unexpected argument "extra"`},
		{"bad pid", []string{"--pid", "x"}, `httptrace: invalid value "x" for flag -pid: "x" is not a PID`},
		{"no pid", nil, "httptrace: pids: no process to trace"},
		{"missing process", []string{"--pid", "999999999"}, "httptrace: PID 999999999: no such process"},
		{"bad attach", []string{"--pid", "1", "--attach", "fentry"}, `httptrace: attach: "fentry" is not an attach mode`},
		{"bad format", []string{"--pid", "1", "--log-format", "xml"}, `httptrace: log_format: "xml" is not a log format`},
		{"config line", []string{"-c", bad}, "httptrace: " + bad + ":3: capture: unknown key"},
		{"missing config", []string{"-c", filepath.Join(dir, "none.yaml")}, "httptrace: reading config: stat " + dir},
		{"negative duration", []string{"--pid", "1", "--duration", "-1s"}, "httptrace: --duration -1s is negative"},
		{"own pid", []string{"--pid", strconv.Itoa(os.Getpid())}, fmt.Sprintf("httptrace: PID %d is httptrace itself", os.Getpid())},
		{"kernel thread", []string{"--pid", "2"}, "httptrace: PID 2 (kthreadd) is a kernel thread"},
		{"empty comm", []string{"--comm", ""}, "httptrace: comm: empty command name"},
		{"bpftrace bad mode", []string{"bpftrace", "--attach", "uprobe"}, `httptrace bpftrace: attach: "uprobe" is not an attach mode`},
		{"bpftrace bad strlen", []string{"bpftrace", "--strlen", "1000"}, "httptrace bpftrace: string size 1000 is out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tc.args, &out, &errOut)
			checkUsageError(t, code, out.String(), errOut.String(), tc.want)
		})
	}
}

// TestProfileEnvIsUsageError: a CPU profile path that cannot be created
// stops the run before anything is loaded.
func TestProfileEnvIsUsageError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "cpu.prof")
	t.Setenv("HTTPTRACE_CPUPROFILE", path)
	var out, errOut bytes.Buffer
	code := run([]string{"--pid", strconv.Itoa(os.Getppid())}, &out, &errOut)
	checkUsageError(t, code, out.String(), errOut.String(), "httptrace: HTTPTRACE_CPUPROFILE: open "+path)
}

// TestMemProfileEnvIsUsageError: so does an allocation profile path.
func TestMemProfileEnvIsUsageError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "mem.prof")
	t.Setenv("HTTPTRACE_MEMPROFILE", path)
	var out, errOut bytes.Buffer
	code := run([]string{"--pid", strconv.Itoa(os.Getppid())}, &out, &errOut)
	checkUsageError(t, code, out.String(), errOut.String(), "httptrace: HTTPTRACE_MEMPROFILE: open "+path)
}

// checkUsageError asserts exit status 2, nothing on stdout and one line on
// stderr starting with want.
func checkUsageError(t *testing.T, code int, stdout, stderr, want string) {
	t.Helper()
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	if stdout != "" {
		t.Errorf("stdout: %q", stdout)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, want) {
		t.Errorf("stderr %q\nwant one line starting %q", stderr, want)
	}
}

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"bpftrace", "--help"}, {"--version"}} {
		var out, errOut bytes.Buffer
		if code := run(args, &out, &errOut); code != 0 || out.Len() == 0 || errOut.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %d bytes, stderr %q", args, code, out.Len(), errOut.String())
		}
	}
	var out bytes.Buffer
	run([]string{"--help"}, &out, &out)
	for _, flag := range []string{"--config", "--pid", "--comm", "--attach", "--log-format", "--duration", "--verbose", "--version", "bpftrace"} {
		if !strings.Contains(out.String(), flag) {
			t.Errorf("--help does not mention %s", flag)
		}
	}
}
