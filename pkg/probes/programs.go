// The names of the BPF programs in bpf/httptrace.bpf.c, one constant each.

package probes

// Kprobe mode: an entry program per data function, shared return programs.
const (
	ProgKprobeRead     = "kprobe_read"
	ProgKprobeReadv    = "kprobe_readv"
	ProgKprobeRecvfrom = "kprobe_recvfrom"
	ProgKprobeRecvmsg  = "kprobe_recvmsg"
	ProgKprobeWrite    = "kprobe_write"
	ProgKprobeWritev   = "kprobe_writev"
	ProgKprobeSendto   = "kprobe_sendto"
	ProgKprobeSendmsg  = "kprobe_sendmsg"
	ProgKprobeSendfile = "kprobe_sendfile"
	ProgKprobeConnect  = "kprobe_connect"
	ProgKprobeClose    = "kprobe_close"
	ProgKprobeListen   = "kprobe_listen"
	ProgKprobeMmap     = "kprobe_mmap"
	// ProgKretprobeReturn serves the return of every data function and connect.
	ProgKretprobeReturn = "kretprobe_return"
	ProgKretprobeAccept = "kretprobe_accept"
)

// Tracepoint mode: an enter program per data syscall, shared exit programs.
const (
	ProgTpEnterRead     = "tp_enter_read"
	ProgTpEnterReadv    = "tp_enter_readv"
	ProgTpEnterRecvfrom = "tp_enter_recvfrom"
	ProgTpEnterRecvmsg  = "tp_enter_recvmsg"
	ProgTpEnterWrite    = "tp_enter_write"
	ProgTpEnterWritev   = "tp_enter_writev"
	ProgTpEnterSendto   = "tp_enter_sendto"
	ProgTpEnterSendmsg  = "tp_enter_sendmsg"
	ProgTpEnterSendfile = "tp_enter_sendfile"
	ProgTpEnterConnect  = "tp_enter_connect"
	ProgTpEnterClose    = "tp_enter_close"
	ProgTpEnterListen   = "tp_enter_listen"
	ProgTpEnterMmap     = "tp_enter_mmap"
	// ProgTpExit serves the exit of every data syscall and connect.
	ProgTpExit       = "tp_exit"
	ProgTpExitAccept = "tp_exit_accept"
)

// Process tracking, the same programs in every mode.
const (
	ProgProcFork = "raw_tp_proc_fork"
	ProgProcExec = "raw_tp_proc_exec"
	ProgProcExit = "raw_tp_proc_exit"
)

// Sockets, the same program in every mode.
const (
	// ProgSockState sees TCP state changes: a released socket's end.
	ProgSockState = "raw_tp_sock_state"
	// ProgSockDestroy sees a TCP socket destroyed: every socket's last moment.
	ProgSockDestroy = "raw_tp_sock_destroy"
)

// TLS libraries, the same programs in every mode (probes.Uprobes).
const (
	ProgUprobeSSLRead    = "uprobe_ssl_read"
	ProgUprobeSSLWrite   = "uprobe_ssl_write"
	ProgUprobeSSLReadEx  = "uprobe_ssl_read_ex"
	ProgUprobeSSLWriteEx = "uprobe_ssl_write_ex"
	// ProgUretprobeTLS serves the return of every TLS read and write.
	ProgUretprobeTLS = "uretprobe_tls"
	// Go's crypto/tls: entries, and each function's program at its RET instructions.
	ProgUprobeGoTLSRead     = "uprobe_go_tls_read"
	ProgUprobeGoTLSWrite    = "uprobe_go_tls_write"
	ProgUprobeGoTLSReadRet  = "uprobe_go_tls_read_ret"
	ProgUprobeGoTLSWriteRet = "uprobe_go_tls_write_ret"
)
