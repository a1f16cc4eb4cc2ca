/* Process tracking: forks of tracked processes and execs of tracked names are tracked, exits untracked. */
#ifndef HTTPTRACE_PROC_H
#define HTTPTRACE_PROC_H

#include "emit.h"

/* Adds a process to tracked_pids, counting a full map. */
static __always_inline bool track(__u32 pid)
{
	__u8 one = 1;

	if (bpf_map_update_elem(&tracked_pids, &pid, &one, BPF_ANY)) {
		stat_inc(HTTPTRACE_STAT_TRACK_FAILED);
		return false;
	}
	stat_inc(HTTPTRACE_STAT_PROCS_TRACKED);
	return true;
}

/*
 * A task forked: a new process (not a thread) of a tracked one is tracked,
 * and one forked in a selected container's cgroup (the parent's, which runs
 * this): a container's process found by user space's scan may fork before
 * it is tracked.
 */
static __always_inline int on_fork(struct task_struct *parent, struct task_struct *child)
{
	__u32 ppid = BPF_CORE_READ(parent, tgid);
	__u32 pid = BPF_CORE_READ(child, tgid);

	if (pid == ppid)
		return 0;
	if (!bpf_map_lookup_elem(&tracked_pids, &ppid) && !in_selected_cgroup())
		return 0;
	if (track(pid))
		emit_proc(HTTPTRACE_PROC_FORK, pid, ppid, child);
	return 0;
}

/*
 * The current process exec'd: tracked when its new name is in tracked_comms,
 * or when it runs in a selected container's cgroup (a process a runtime
 * starts in a container, or execs into one, is no descendant of a traced one).
 */
static __always_inline int on_exec(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	char comm[HTTPTRACE_COMM_LEN] = {};
	__u32 pid = bpf_get_current_pid_tgid() >> 32;

	if (!bpf_map_lookup_elem(&tracked_pids, &pid)) {
		bpf_get_current_comm(comm, sizeof(comm));
		if (!bpf_map_lookup_elem(&tracked_comms, comm) && !in_selected_cgroup())
			return 0;
		if (!track(pid))
			return 0;
	}
	emit_proc(HTTPTRACE_PROC_EXEC, pid, BPF_CORE_READ(task, real_parent, tgid), task);
	return 0;
}

/* A task exits: when it is the last of a tracked process, untrack the process. */
static __always_inline int on_exit(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 pid = pid_tgid >> 32;

	bpf_map_delete_elem(&calls, &pid_tgid); /* the thread's, if it made any */
	bpf_map_delete_elem(&tls_calls, &pid_tgid);
	/* do_exit counts the thread out of signal->live before this tracepoint. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	if (bpf_map_delete_elem(&tracked_pids, &pid))
		return 0;
	stat_inc(HTTPTRACE_STAT_PROCS_EXITED);
	emit_proc(HTTPTRACE_PROC_EXIT, pid, BPF_CORE_READ(task, real_parent, tgid), task);
	return 0;
}

#endif /* HTTPTRACE_PROC_H */
