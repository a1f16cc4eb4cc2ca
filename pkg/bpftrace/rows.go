// What the program does at each hook of the probe table: data syscalls,
// process events, and the rows it leaves out.

package bpftrace

import (
	"fmt"
	"strings"

	"github.com/httptrace/httptrace/pkg/probes"
)

// scriptVars are what the actions need besides the probe's arguments.
type scriptVars struct {
	tracked string // predicate: the current process is traced
	show    int    // bytes of each request or response printed
}

// action is a hook's predicate and body in the program.
type action struct {
	pred, body string
}

// leftOut says why the program has no form for a row, by row name. Every
// other row of the table is written (TestEveryRowWritten).
var leftOut = map[string]string{
	"accept":       "keeps no connections",
	"connect":      "keeps no connections",
	"close":        "keeps no connections",
	"sock_end":     "keeps no connections",
	"sock_destroy": "keeps no connections",
	"proc_exec":    "compares names at every call and fork instead",
	"listen":       "selects no ports",
	"tls_map":      "probes OpenSSL when it starts (uprobe lines), not when a library is mapped",
}

// rowAction is the action of one hook of a row, or ok false when the
// program leaves the row out.
func rowAction(row probes.Row, h probes.Hook, e exprs, v scriptVars) (action, bool, error) {
	if _, out := leftOut[row.Name]; out {
		return action{}, false, nil
	}
	switch {
	case row.Shape != probes.ShapeNone && h.Side == probes.Entry:
		a, err := entryAction(row, e, v)
		return a, true, err
	case row.Shape != probes.ShapeNone && h.Side == probes.Return:
		return returnAction(row, e, v), true, nil
	case row.Name == "proc_fork":
		return action{
			pred: v.tracked,
			body: "\t// A thread's id is added too (the tracepoint cannot tell threads from\n" +
				"\t// processes); it is removed when the thread exits.\n" +
				"\t@tracked[args->child_pid] = 1;\n",
		}, true, nil
	case row.Name == "proc_exit":
		return action{
			pred: "@tracked[pid] || @tracked[tid]",
			body: "\tif (tid != pid) {\n\t\tdelete(@tracked[tid]);\n\t}\n" +
				"\t// The last thread of the process: untrack it.\n" +
				"\tif (curtask->signal->live.counter == 0) {\n\t\tdelete(@tracked[pid]);\n\t}\n",
		}, true, nil
	}
	return action{}, false, fmt.Errorf("row %s has no form in a bpftrace program", row.Name)
}

// entryAction saves the fd and the user pointer of a data syscall per thread.
func entryAction(row probes.Row, e exprs, v scriptVars) (action, error) {
	if e.fd == "" || (row.Shape != probes.ShapeSendfile && e.ptr == "") {
		return action{}, fmt.Errorf("the probe has no fd and pointer arguments to save")
	}
	var b strings.Builder
	b.WriteString("\t// This thread's previous call never reached its return probe.\n" +
		"\tif (@entry[tid]) {\n\t\t@returns_missed++;\n\t}\n\t@entry[tid] = 1;\n")
	fmt.Fprintf(&b, "\t@fd[tid] = %s;\n", e.fd)
	if row.Shape != probes.ShapeSendfile {
		fmt.Fprintf(&b, "\t@ptr[tid] = %s;\n", e.ptr)
	}
	return action{pred: v.tracked, body: b.String()}, nil
}

// returnAction prints what a data syscall moved: a count for sendfile,
// else the first bytes when they start a request or a response.
func returnAction(row probes.Row, e exprs, v scriptVars) action {
	var b strings.Builder
	fmt.Fprintf(&b, "\t$fd = @fd[tid];\n\t$ret = %s;\n", e.ret)
	if row.Shape == probes.ShapeSendfile {
		b.WriteString("\tdelete(@entry[tid]);\n\tdelete(@fd[tid]);\n" +
			"\tif ($ret > 0) {\n\t\tprintf(\"SENDFILE pid=%d fd=%d bytes=%d\\n\", pid, $fd, $ret);\n\t}\n")
		return action{pred: "@entry[tid]", body: b.String()}
	}
	// iov_base is a void *, and bpftrace scales pointer arithmetic by the
	// pointee's size, which is 0 for void: $b + 8 would read the first word
	// again. The address is kept as an integer, as @ptr[tid] is.
	iovBase := "\t$b = (uint64)$iov->iov_base;\n"
	iovLen := "\t$len = (int64)" + fmt.Sprintf(e.asRet, "$iov->iov_len") + ";\n"
	switch row.Shape {
	case probes.ShapeIovec:
		b.WriteString("\t// The first iovec's bytes only.\n" +
			"\t$iov = (struct iovec *)@ptr[tid];\n" + iovBase + iovLen)
	case probes.ShapeMsghdr:
		b.WriteString("\t// The first iovec of msg_iov only.\n" +
			"\t$iov = ((struct user_msghdr *)@ptr[tid])->msg_iov;\n" + iovBase + iovLen)
	default:
		b.WriteString("\t$b = @ptr[tid];\n\t$len = $ret;\n")
	}
	b.WriteString("\tdelete(@entry[tid]);\n\tdelete(@fd[tid]);\n\tdelete(@ptr[tid]);\n" +
		"\tif ($ret > 0) {\n")
	b.WriteString("\t\t$seen = $ret < $len ? $ret : $len;\n")
	fmt.Fprintf(&b, "\t\t$n = $seen < %d ? $seen : %d;\n", v.show, v.show)
	classify(&b, "\t\t")
	if row.Shape == probes.ShapeBuffer {
		h2Frames(&b, "\t\t", row.Dir)
	} else {
		h2Vector(&b, "\t\t", row.Dir)
	}
	b.WriteString("\t}\n")
	return action{pred: "@entry[tid]", body: b.String()}
}
