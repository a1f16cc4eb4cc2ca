// The names of the object's maps and read-only globals, one constant each.

package bpfobj

// Maps (bpf/maps.h).
const (
	MapTrackedPIDs    = "tracked_pids"    // processes (tgid) to trace
	MapTrackedComms   = "tracked_comms"   // process names whose exec is traced
	MapTrackedCgroups = "tracked_cgroups" // cgroup v2 ids whose processes' execs are traced
	MapConns          = "conns"           // connections by socket inode number
	MapConnSocks      = "conn_socks"      // connection id by struct sock
	MapFdConns        = "fd_conns"        // what each fd's file is, per process
	MapConnSkips      = "conn_skips"      // per-direction positions user space wants skipped
	MapSkipsSet       = "skips_set"       // non-zero once any skip is set
	MapCalls          = "calls"           // syscalls in flight, per thread
	MapScratch        = "scratch"         // per-CPU record being built
	MapEvents         = "events"          // the ring buffer of records
	MapStats          = "stats"           // per-CPU counters (enum httptrace_stat)
	MapPorts          = "ports"           // selected TCP ports, HTTPTRACE_PORT_* bits per port
	MapTLSCalls       = "tls_calls"       // TLS library calls in flight, per thread (bpf/tlswire.h)
	MapTLSConns       = "tls_conns"       // the connection of each TLS connection object, per process
	MapGoTLSCalls     = "go_tls_calls"    // Go crypto/tls calls in flight, per goroutine (bpf/gotls.h)
)

// MapNames lists every map the object must hold.
var MapNames = []string{MapTrackedPIDs, MapTrackedComms, MapTrackedCgroups, MapConns, MapConnSocks, MapFdConns, MapConnSkips, MapSkipsSet, MapCalls, MapScratch, MapEvents, MapStats, MapPorts, MapTLSCalls, MapTLSConns, MapGoTLSCalls}

// Read-only globals, set before load.
const (
	GlobalCaptureBytes  = "capture_bytes"  // __u32: bytes of each transfer copied
	GlobalWakeupBytes   = "wakeup_bytes"   // __u64: ring fill level that wakes the reader
	GlobalTraceUnix     = "trace_unix"     // bool: unix-domain stream sockets are traced too
	GlobalPortSelect    = "port_select"    // bool: the ports map selects connections and listeners
	GlobalTraceAll      = "trace_all"      // bool: every process is a candidate (client-side port selection alone)
	GlobalSelfPID       = "self_pid"       // __u32: httptrace's own PID, never traced
	GlobalTraceTLS      = "trace_tls"      // bool: TLS plaintext is traced (uprobes on TLS libraries)
	GlobalWakeOnFork    = "wake_on_fork"   // bool: a fork record wakes the reader at once (TLS probes per process)
	GlobalSelectCgroups = "select_cgroups" // bool: tracked_cgroups selects processes (containers)
	// __u64 each: where a crypto/tls.Conn's socket is (userbin.GoTLSOffsets).
	GlobalGoConnDataOff   = "go_conn_data_off"
	GlobalGoConnFDOff     = "go_conn_fd_off"
	GlobalGoNetFDSysfdOff = "go_netfd_sysfd_off"
)
