// Package ringtest builds, loads and drives testdata/ringtest.bpf.c, the BPF
// program that writes records into a ring buffer when its test asks.
package ringtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"unsafe"

	bpf "github.com/aquasecurity/libbpfgo"
	"golang.org/x/sys/unix"

	// libbpf itself, linked statically.
	_ "github.com/httptrace/httptrace/pkg/libbpf"
)

// The request and its modes, as testdata/ringtest.h defines them.
const (
	option   = 0x52494e47
	MaxLen   = 1024 // largest variable-length payload
	FixedLen = 48   // payload length of reserved and filled records
)

// Mode is how the program writes one record.
type Mode uintptr

// The modes of testdata/ringtest.h.
const (
	Output            Mode = 0 // bpf_ringbuf_output, flags 0
	OutputNoWakeup    Mode = 1 // bpf_ringbuf_output, BPF_RB_NO_WAKEUP
	OutputForceWakeup Mode = 2 // bpf_ringbuf_output, BPF_RB_FORCE_WAKEUP
	Submit            Mode = 3 // reserve and submit, FixedLen bytes
	Discard           Mode = 4 // reserve and discard, FixedLen bytes
	fill              Mode = 5 // see Fill
)

// counters is RINGTEST_COUNTS, the number of counters.
const counters = 5

// Counts are the program's counters (enum ringtest_count).
type Counts struct {
	Committed     uint64 // records submitted, and the next sequence number
	OutputFailed  uint64 // bpf_ringbuf_output refused
	ReserveFailed uint64 // bpf_ringbuf_reserve refused
	Discarded     uint64 // records reserved and discarded
	Rejected      uint64 // bad requests
}

// Build compiles the program with clang into dir, with the Makefile's
// BPF_CFLAGS, against the vmlinux.h of the repository at root.
func Build(root, dir string) (string, error) {
	arch := map[string]string{"amd64": "x86", "arm64": "arm64"}[runtime.GOARCH]
	if arch == "" {
		return "", fmt.Errorf("no vmlinux.h for GOARCH %s", runtime.GOARCH)
	}
	src := filepath.Join(root, "pkg", "ringbuf", "testdata", "ringtest.bpf.c")
	obj := filepath.Join(dir, "ringtest.bpf.o")
	cmd := exec.Command("clang", "-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_"+arch,
		"-Wall", "-Werror", "-I", filepath.Join(root, "vmlinux", arch), "-I", filepath.Join(root, "bpf"),
		"-c", src, "-o", obj)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("compiling %s: %w\n%s", src, err, out)
	}
	return obj, nil
}

// Object is the loaded and attached program.
type Object struct {
	mod    *bpf.Module
	link   *bpf.BPFLink
	counts *bpf.BPFMap
	// EventsFD is the fd of the ring buffer map, owned by the Object.
	EventsFD int
	// CountsFD is the fd of the counters, an array map.
	CountsFD int
}

// Load loads the object at path with a ring of ringSize bytes (0 keeps the
// object's), takes requests from this process only, and attaches it.
func Load(path string, ringSize uint32) (*Object, error) {
	if err := mountTracefs(); err != nil {
		return nil, err
	}
	// libbpf's debug messages would bury the test output; keep its warnings.
	bpf.SetLoggerCbs(bpf.Callbacks{Log: func(level int, msg string) {
		if level == bpf.LibbpfWarnLevel {
			fmt.Fprint(os.Stderr, msg)
		}
	}})
	mod, err := bpf.NewModuleFromFileArgs(bpf.NewModuleArgs{BPFObjPath: path, SkipMemlockBump: true})
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	o := &Object{mod: mod}
	if err := o.load(ringSize); err != nil {
		o.Close()
		return nil, err
	}
	return o, nil
}

func (o *Object) load(ringSize uint32) error {
	if err := o.mod.InitGlobalVariable("target_tgid", uint32(os.Getpid())); err != nil {
		return fmt.Errorf("setting target_tgid: %w", err)
	}
	events, err := o.mod.GetMap("events")
	if err != nil {
		return fmt.Errorf("finding map events: %w", err)
	}
	if ringSize != 0 {
		if err := events.SetMaxEntries(ringSize); err != nil {
			return fmt.Errorf("sizing map events: %w", err)
		}
	}
	if err := o.mod.BPFLoadObject(); err != nil {
		return fmt.Errorf("loading: %w", err)
	}
	o.EventsFD = events.FileDescriptor()
	if o.counts, err = o.mod.GetMap("counts"); err != nil {
		return fmt.Errorf("finding map counts: %w", err)
	}
	o.CountsFD = o.counts.FileDescriptor()
	prog, err := o.mod.GetProgram("on_prctl")
	if err != nil {
		return fmt.Errorf("finding program on_prctl: %w", err)
	}
	if o.link, err = prog.AttachTracepoint("syscalls", "sys_enter_prctl"); err != nil {
		return fmt.Errorf("attaching on_prctl: %w", err)
	}
	return nil
}

// mountTracefs mounts tracefs where libbpf looks for tracepoint ids, unless
// it is there.
func mountTracefs() error {
	const dir = "/sys/kernel/tracing"
	if _, err := os.Stat(filepath.Join(dir, "events")); err == nil {
		return nil
	}
	if err := unix.Mount("tracefs", dir, "tracefs", 0, ""); err != nil {
		return fmt.Errorf("mounting tracefs on %s: %w", dir, err)
	}
	return nil
}

// Close detaches and frees the program and its maps.
func (o *Object) Close() {
	if o.link != nil {
		o.link.Destroy()
	}
	o.mod.Close()
}

// Counts reads the program's counters.
func (o *Object) Counts() (Counts, error) {
	var v [counters]uint64
	for i := range v {
		key := uint32(i)
		raw, err := o.counts.GetValue(unsafe.Pointer(&key))
		if err != nil {
			return Counts{}, fmt.Errorf("reading counter %d: %w", i, err)
		}
		if len(raw) != 8 {
			return Counts{}, errors.New("counter value is not 8 bytes")
		}
		v[i] = *(*uint64)(unsafe.Pointer(&raw[0]))
	}
	return Counts{Committed: v[0], OutputFailed: v[1], ReserveFailed: v[2], Discarded: v[3], Rejected: v[4]}, nil
}

// Send asks for one record with this payload; the program overwrites its
// first 8 bytes with the sequence number. Reserved modes copy FixedLen bytes.
func Send(mode Mode, payload []byte) {
	var p unsafe.Pointer
	if len(payload) > 0 {
		p = unsafe.Pointer(&payload[0])
	}
	// prctl fails (EINVAL) with the unknown option; the program has seen it.
	unix.Syscall6(unix.SYS_PRCTL, option, uintptr(mode), uintptr(p), uintptr(len(payload)), 0, 0)
	runtime.KeepAlive(payload)
}

// Fill asks for up to n FixedLen-byte records without wakeup in one call,
// stopping at the first the full ring refuses.
func Fill(n int) {
	unix.Syscall6(unix.SYS_PRCTL, option, uintptr(fill), 0, uintptr(n), 0, 0)
}
