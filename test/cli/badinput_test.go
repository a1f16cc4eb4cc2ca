package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/httptrace/httptrace/test/harness"
)

// badCase is one wrong invocation and the exact line httptrace must print.
type badCase struct {
	name string
	args []string // httptrace's arguments; {file} is replaced by the config path
	yaml string   // when set, written to {file} (config cases); {dir} is the test directory
	env  []string // extra environment
	// wrap, when set, builds the command around httptrace's path and
	// arguments (another user, another mount namespace, a shell that execs).
	wrap func(bin string, args []string) *exec.Cmd
	// want is the whole stderr line. {file} is the config path, {dir} the
	// test directory, {pid} the started process ID.
	want string
}

// TestBadInput runs the binary on what a user can get wrong: flags, config
// files, PIDs, privileges and the host. Each must exit 2 with exactly one
// line on stderr, nothing on stdout and no stack trace.
func TestBadInput(t *testing.T) {
	harness.RequireRoot(t)
	bin := harness.Bin(t)
	dir := t.TempDir()
	zombie := makeZombie(t)
	thread := otherThread(t)
	self := os.Getpid()
	tp := []string{"-c", "{file}", "--attach", "tracepoint"}
	kp := []string{"-c", "{file}", "--attach", "kprobe"}
	keyFile := filepath.Join(dir, "empty.key")
	if err := os.WriteFile(keyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A misspelt kernel function is named where kprobes can be made; where
	// they cannot, kprobe mode is refused first, before any function is
	// looked up (the unit tests check the misspelling's words).
	noSuchFunction := "kprobe mode: read_entry: kernel function ksys_raed is not a text symbol in /proc/kallsyms; similar: ksys_read"
	if _, err := os.Stat("/sys/bus/event_source/devices/kprobe"); err != nil {
		noSuchFunction = "kprobe mode: this kernel has no kprobes (CONFIG_KPROBE_EVENTS is off: no /sys/bus/event_source/devices/kprobe); use --attach tracepoint"
	}
	topKeys := "pids, comm, ports, containers, pods, runtime_socket, attach, capture_bytes, max_header_bytes, capture_body_bytes, exchange_timeout, log_format, unix_sockets, tls, probes, redact, filter, metrics, routes, services, otlp"

	cases := []badCase{
		// Command line.
		{name: "unknown flag", args: []string{"--colour"}, want: "flag provided but not defined: -colour (see httptrace --help)"},
		{name: "stray argument", args: []string{"--pid", "1", "extra"}, want: `unexpected argument "extra" (see httptrace --help)`},
		{name: "pid not a number", args: []string{"--pid", "x"}, want: `invalid value "x" for flag -pid: "x" is not a PID (see httptrace --help)`},
		{name: "nothing to trace", want: "pids: no process to trace: list PIDs under pids, names under comm, ports under ports, containers under containers " +
			"or pods under pods, or pass --pid, --comm, --port, --container or --pod"},
		{name: "status class", args: []string{"--pid", "1", "--status", "6xx"}, want: `invalid value "6xx" for flag -status: "6xx" is not a status (want a code 100-599, a class 1xx-5xx, 0 or incomplete) (see httptrace --help)`},
		{name: "latency word", args: []string{"--pid", "1", "--min-latency", "fast"}, want: `invalid value "fast" for flag -min-latency: "fast" is not a latency (want a positive duration, e.g. 100ms or 2s) (see httptrace --help)`},
		{name: "port out of range", args: []string{"--port", "70000"}, want: `invalid value "70000" for flag -port: "70000" is not a TCP port (want 1 to 65535) (see httptrace --help)`},
		{name: "port zero", args: []string{"--port", "0"}, want: `invalid value "0" for flag -port: "0" is not a TCP port (want 1 to 65535) (see httptrace --help)`},
		{name: "side", args: []string{"--pid", "1", "--side", "both"}, want: `invalid value "both" for flag -side: "both" is not a side (want server or client) (see httptrace --help)`},
		{name: "path glob", args: []string{"--pid", "1", "--path", "api/*"}, want: `invalid value "api/*" for flag -path: "api/*" is not a path glob (want one starting with / or *, e.g. '/api/*') (see httptrace --help)`},
		{name: "port twice", args: []string{"--port", "80", "--port", "80"}, want: "ports: port 80 is listed twice"},
		{name: "filter status in file", args: []string{"-c", "{file}"}, yaml: "pids: [1]\nfilter:\n  status: [5xx, 7xx]\n", want: `{file}:3: filter.status: "7xx" is not a status (want a code 100-599, a class 1xx-5xx, 0 or incomplete)`},
		{name: "filter unknown key", args: []string{"-c", "{file}"}, yaml: "pids: [1]\nfilter:\n  latency: 1s\n", want: "{file}:3: filter.latency: unknown key (want status, min_latency, path, method, side or host)"},
		{name: "ports out of range in file", args: []string{"-c", "{file}"}, yaml: "ports: [8080, 0]\n", want: "{file}:1: ports: 0 is not a TCP port (want 1 to 65535)"},
		{name: "pid zero", args: []string{"--pid", "0"}, want: "pids: PID 0 is not a process ID"},
		{name: "pid negative", args: []string{"--pid", "-5"}, want: "pids: PID -5 is not a process ID"},
		{name: "pid twice", args: []string{"--pid", "1", "--pid", "1"}, want: "pids: PID 1 is listed twice"},
		{name: "no such process", args: []string{"--pid", "4194305"}, want: "PID 4194305: no such process"},
		{name: "kernel thread", args: []string{"--pid", "2"}, want: "PID 2 (kthreadd) is a kernel thread, which makes no HTTP requests: pass the PID of a user-space process"},
		{name: "zombie", args: []string{"--pid", strconv.Itoa(zombie)},
			want: fmt.Sprintf("PID %d (true) has exited and waits for its parent (PID %d) to reap it: there is nothing left to trace", zombie, self)},
		{name: "thread of a process", args: []string{"--pid", strconv.Itoa(thread)},
			want: fmt.Sprintf("PID %d is a thread of process %d: pass --pid %d (every thread of a process is traced)", thread, self, self)},
		{name: "own pid", wrap: func(bin string, _ []string) *exec.Cmd {
			return exec.Command("sh", "-c", `exec "$0" --pid $$`, bin)
		}, want: "PID {pid} is httptrace itself: pass the PID of the process to trace"},
		{name: "bad attach", args: []string{"--pid", "1", "--attach", "fentry"}, want: `attach: "fentry" is not an attach mode (want auto, kprobe or tracepoint)`},
		{name: "bad log format", args: []string{"--pid", "1", "--log-format", "xml"}, want: `log_format: "xml" is not a log format (want text or json)`},
		{name: "bad duration", args: []string{"--pid", "1", "--duration", "soon"}, want: `invalid value "soon" for flag -duration: parse error (see httptrace --help)`},
		{name: "negative duration", args: []string{"--pid", "1", "--duration", "-1s"}, want: "--duration -1s is negative (see httptrace --help)"},
		{name: "empty comm", args: []string{"--comm", ""}, want: "comm: empty command name"},
		{name: "comm too long", args: []string{"--comm", "abcdefghijklmnop"}, want: `comm: "abcdefghijklmnop" is longer than the 15 bytes the kernel keeps of a command name`},
		{name: "comm twice", args: []string{"--comm", "nginx", "--comm", "nginx"}, want: `comm: "nginx" is listed twice`},

		// Configuration files.
		{name: "config missing", args: []string{"-c", filepath.Join(dir, "none.yaml")},
			want: "reading config: stat {dir}/none.yaml: no such file or directory"},
		{name: "config is a directory", args: []string{"-c", dir}, want: "reading config: {dir} is not a regular file"},
		{name: "config over 1 MiB", args: []string{"-c", "{file}"}, yaml: "pids: [1]\n#" + strings.Repeat("x", 1<<20) + "\n",
			want: "reading config: {file} is 1048588 bytes, more than the 1048576 a configuration may have"},
		{name: "config not UTF-8", args: []string{"-c", "{file}"}, yaml: "pids: [1]\ncomm: [caf\xe9]\n", want: "{file}:2: not valid UTF-8 text"},
		{name: "config control character", args: []string{"-c", "{file}"}, yaml: "pids: [1]\n\x00\n", want: "{file}:2: character U+0000 is not allowed in YAML"},
		{name: "alias bomb", args: []string{"-c", "{file}"}, yaml: aliasBomb(), want: "{file}:2: pids: want a whole number, got an alias"},
		{name: "syntax error", args: []string{"-c", "{file}"}, yaml: "pids: [1\n", want: "{file}:1: did not find expected ',' or ']'"},
		{name: "unknown key", args: []string{"-c", "{file}"}, yaml: "pids: [1]\ncolour: red\n", want: "{file}:2: colour: unknown key (want " + topKeys + ")"},
		{name: "tls not a bool", args: []string{"-c", "{file}"}, yaml: "pids: [1]\ntls: maybe\n", want: `{file}:2: tls: want true or false, got "maybe" (str)`},
		{name: "key twice", args: []string{"-c", "{file}"}, yaml: "pids: [1]\npids: [2]\n", want: "{file}:2: pids: key given twice"},
		{name: "pids not a list", args: []string{"-c", "{file}"}, yaml: "pids: \"12\"\n", want: `{file}:1: pids: want a list of PIDs, got "12" (str)`},
		{name: "capture_bytes not a number", args: []string{"-c", "{file}"}, yaml: "pids: [1]\ncapture_bytes: big\n", want: `{file}:2: capture_bytes: want a whole number, got "big" (str)`},
		{name: "log_format a list", args: []string{"-c", "{file}"}, yaml: "pids: [1]\nlog_format: [json]\n", want: "{file}:2: log_format: want a string, got a list"},
		{name: "exchange_timeout not a duration", args: []string{"-c", "{file}"}, yaml: "pids: [1]\nexchange_timeout: soon\n", want: `{file}:2: exchange_timeout: "soon" is not a duration (e.g. 30s, 2m)`},
		{name: "capture_bytes huge", args: []string{"-c", "{file}"}, yaml: "pids: [1]\ncapture_bytes: 99999999999\n", want: `{file}:2: capture_bytes: "99999999999" is out of range`},
		{name: "capture_bytes low", args: []string{"-c", "{file}"}, yaml: "pids: [1]\ncapture_bytes: 10\n", want: "{file}:2: capture_bytes: 10 is out of range (64 to 16384)"},
		{name: "capture_bytes high", args: []string{"-c", "{file}"}, yaml: "pids: [1]\ncapture_bytes: 16385\n", want: "{file}:2: capture_bytes: 16385 is out of range (64 to 16384)"},
		{name: "max_header_bytes low", args: []string{"-c", "{file}"}, yaml: "pids: [1]\nmax_header_bytes: 1023\n", want: "{file}:2: max_header_bytes: 1023 is out of range (1024 to 1048576)"},
		{name: "max_header_bytes high", args: []string{"-c", "{file}"}, yaml: "pids: [1]\nmax_header_bytes: 1048577\n", want: "{file}:2: max_header_bytes: 1048577 is out of range (1024 to 1048576)"},
		{name: "capture_body_bytes negative", args: []string{"-c", "{file}"}, yaml: "pids: [1]\ncapture_body_bytes: -1\n", want: "{file}:2: capture_body_bytes: -1 is out of range (0 to 65536)"},
		{name: "capture_body_bytes high", args: []string{"-c", "{file}"}, yaml: "pids: [1]\ncapture_body_bytes: 65537\n", want: "{file}:2: capture_body_bytes: 65537 is out of range (0 to 65536)"},
		{name: "exchange_timeout short", args: []string{"-c", "{file}"}, yaml: "pids: [1]\nexchange_timeout: 500ms\n", want: "{file}:2: exchange_timeout: 500ms is out of range (1s to 1h)"},
		{name: "exchange_timeout long", args: []string{"-c", "{file}"}, yaml: "pids: [1]\nexchange_timeout: 2h\n", want: "{file}:2: exchange_timeout: 2h0m0s is out of range (1s to 1h)"},
		{name: "redact key_file missing", args: []string{"-c", "{file}"}, yaml: "pids: [1]\nredact:\n  mode: hash\n  key_file: {dir}/none.key\n",
			want: "redaction key: open {dir}/none.key: no such file or directory"},
		{name: "redact key_file empty", args: []string{"-c", "{file}"}, yaml: "pids: [1]\nredact:\n  mode: hash\n  key_file: " + keyFile + "\n",
			want: "redaction key " + keyFile + ": the file is empty"},
		{name: "no such tracepoint", args: tp, yaml: "pids: [1]\nprobes:\n  tracepoint:\n    read_entry: tracepoint:syscalls:sys_enter_raed\n",
			want: "tracepoint mode: read_entry: tracepoint syscalls:sys_enter_raed does not exist (/sys/kernel/tracing/events/syscalls); similar: sys_enter_read, sys_enter_rseq"},
		{name: "no such kernel function", args: kp, yaml: "pids: [1]\nprobes:\n  kprobe:\n    read_entry: kprobe:ksys_raed\n",
			want: noSuchFunction},

		{name: "container name", args: []string{"--container", "a b"}, want: `containers: "a b" is not a container name or ID (letters, digits, and _ . - after the first)`},
		{name: "container twice", args: []string{"-c", "{file}"}, yaml: "containers: [web, web]\n", want: `{file}:1: containers: "web" is listed twice`},
		{name: "runtime_socket relative", args: []string{"-c", "{file}"}, yaml: "containers: [web]\nruntime_socket: run/x.sock\n",
			want: `{file}:2: runtime_socket: "run/x.sock" is not an absolute path`},
		{name: "no container runtime", args: []string{"--container", "web", "--runtime-socket", "{dir}/none.sock", "--attach", "tracepoint"},
			want: "containers: no container runtime answers ({dir}/none.sock: dial unix {dir}/none.sock: connect: no such file or directory): " +
				"start one's API service (podman system service, dockerd, containerd)"},
		{name: "pod name", args: []string{"--pod", "shop/Web_0"}, want: `pods: "shop/Web_0" is not a pod: [NAMESPACE/]NAME, lower-case letters, digits, - (and . in the name)`},
		{name: "pod twice", args: []string{"-c", "{file}"}, yaml: "pods: [shop/web-0, shop/web-0]\n", want: `{file}:1: pods: "shop/web-0" is listed twice`},
		{name: "pod namespace", args: []string{"--pod", "a/b/c"}, want: `pods: "a/b/c" is not a pod: [NAMESPACE/]NAME, lower-case letters, digits, - (and . in the name)`},

		{name: "otlp endpoint", args: []string{"-c", "{file}"}, yaml: "pids: [1]\notlp:\n  endpoint: collector:4318\n",
			want: `{file}:3: otlp.endpoint: "collector:4318" is not an http:// or https:// URL (e.g. http://127.0.0.1:4318)`},

		{name: "top without a terminal", args: []string{"--pid", "1", "--top"}, want: "--top needs a terminal on stdin and stdout"},

		// Environment and privileges.
		{name: "otlp protocol", args: []string{"--pid", "1", "--attach", "tracepoint"},
			env:  []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL=http/json"},
			want: `OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" is not served (want grpc or http/protobuf)`},
		{name: "cpu profile path", args: []string{"--pid", "1"}, env: []string{"HTTPTRACE_CPUPROFILE=" + filepath.Join(dir, "no", "cpu.prof")},
			want: "HTTPTRACE_CPUPROFILE: open {dir}/no/cpu.prof: no such file or directory"},
		{name: "no capabilities", args: []string{"--pid", "1", "--attach", "tracepoint"}, wrap: asNobody,
			want: "CAP_BPF: missing: loading the BPF programs and maps; fix: run as root, or grant CAP_BPF and CAP_PERFMON; " +
				"also failed: CAP_PERFMON, tracefs (httptrace doctor says more)"},
		{name: "own PID namespace", args: []string{"--comm", "nginx", "--attach", "tracepoint"}, wrap: inOwnPIDNamespace,
			want: "pid_namespace: this process runs in a PID namespace other than the host's ({pidns}): the kernel side sees host PIDs; " +
				"fix: run in the host's PID namespace (docker or podman run --pid=host, Kubernetes hostPID: true)"},
		{name: "tracefs cannot be mounted", args: []string{"--pid", "1", "--attach", "tracepoint"}, wrap: withoutTracefs,
			want: "tracefs: not mounted at /sys/kernel/tracing, and httptrace may not mount it (no CAP_SYS_ADMIN); " +
				"fix: mount -t tracefs tracefs /sys/kernel/tracing (in a container: mount the host's /sys/kernel/tracing)"},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, fmt.Sprintf("case%d.yaml", i))
			if tc.yaml != "" {
				yaml := strings.ReplaceAll(tc.yaml, "{dir}", dir)
				if err := os.WriteFile(file, []byte(yaml), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := make([]string, len(tc.args))
			for j, a := range tc.args {
				args[j] = strings.NewReplacer("{file}", file, "{dir}", dir).Replace(a)
			}
			cmd := exec.Command(bin, args...)
			if tc.wrap != nil {
				cmd = tc.wrap(bin, args)
			}
			cmd.Env = append(os.Environ(), tc.env...)
			stdout, stderr, code, pid := runBounded(t, cmd, 20*time.Second)
			want := "httptrace: " + strings.NewReplacer("{file}", file, "{dir}", dir, "{pid}", strconv.Itoa(pid)).Replace(tc.want) + "\n"
			if code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if len(stdout) != 0 {
				t.Errorf("stdout: %q", stdout)
			}
			// A new PID namespace's number is not known in advance.
			pattern := strings.ReplaceAll(regexp.QuoteMeta(want), regexp.QuoteMeta("{pidns}"), `pid:\[[0-9]+\]`)
			if !regexp.MustCompile("^" + pattern + "$").MatchString(stderr) {
				t.Errorf("stderr:\n%q\nwant:\n%q", stderr, want)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic") {
				t.Errorf("stack trace on stderr:\n%s", stderr)
			}
		})
	}
}

// runBounded runs cmd to the end (killing it after timeout) and returns its
// output, exit status and PID.
func runBounded(t *testing.T, cmd *exec.Cmd, timeout time.Duration) (stdout []byte, stderr string, code, pid int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %v: %v", cmd.Args, err)
	}
	stop := context.AfterFunc(ctx, func() { cmd.Process.Kill() })
	defer stop()
	err := cmd.Wait()
	if ctx.Err() != nil {
		t.Fatalf("%v did not exit within %s; stderr:\n%s", cmd.Args, timeout, errOut.String())
	}
	return out.Bytes(), errOut.String(), exitCode(err), cmd.Process.Pid
}

// asNobody runs httptrace as user nobody with no capabilities at all.
func asNobody(bin string, args []string) *exec.Cmd {
	return exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups",
		"--inh-caps=-all", "--bounding-set=-all", bin}, args...)...)
}

// withoutTracefs runs httptrace in a private mount namespace with tracefs
// unmounted and without CAP_SYS_ADMIN (kept: CAP_BPF, CAP_PERFMON), so
// its attempt to mount tracefs really fails.
func withoutTracefs(bin string, args []string) *exec.Cmd {
	script := `while umount /sys/kernel/tracing 2>/dev/null; do :; done
while umount /sys/kernel/debug/tracing 2>/dev/null; do :; done
exec setpriv --bounding-set=-sys_admin --inh-caps=-sys_admin "$@"`
	return exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", bin}, args...)...)
}

// inOwnPIDNamespace runs httptrace as PID 1 of a new PID namespace with its
// own /proc, as a container without the host's PID namespace would.
func inOwnPIDNamespace(bin string, args []string) *exec.Cmd {
	return exec.Command("unshare", append([]string{"--pid", "--fork", "--mount-proc", bin}, args...)...)
}

// makeZombie starts a child that exits at once and is not waited for until
// the test ends, and returns its PID once it is a zombie.
func makeZombie(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Wait() })
	pid := cmd.Process.Pid
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err == nil && bytes.Contains(stat, []byte(") Z ")) {
			return pid
		}
	}
	t.Fatalf("child %d never became a zombie", pid)
	return 0
}

// otherThread returns a thread ID of this process that is not its PID.
func otherThread(t *testing.T) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		if tid, _ := strconv.Atoi(task.Name()); tid != os.Getpid() {
			return tid
		}
	}
	t.Fatal("this process has one thread")
	return 0
}

// aliasBomb is a billion-laughs YAML document whose anchors sit under keys
// httptrace knows, so decoding reaches the aliases.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString(`comm: &a ["l", "l", "l", "l", "l", "l", "l", "l", "l"]` + "\n")
	prev := "a"
	for i, key := range []string{"pids", "attach", "log_format", "capture_bytes", "max_header_bytes", "exchange_timeout", "capture_body_bytes"} {
		name := string(rune('b' + i))
		b.WriteString(key + ": &" + name + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+", ", 9), ", ") + "]\n")
		prev = name
	}
	return b.String()
}
