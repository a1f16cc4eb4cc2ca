#!/usr/bin/env bash
# Boots a kernel under qemu (TCG) with a busybox initramfs, runs one command inside, exits with its exit code.
#
# Usage: scripts/vm/run-guest.sh --kernel VMLINUZ [options] -- GUEST COMMAND [ARGS...]
#   --kernel FILE          kernel image to boot (e.g. from fetch-kernel.sh)
#   --host-root MODDIR     run the command on the host's root filesystem, shared read-only
#                          over virtio-9p under a tmpfs overlay, so the host's dynamically
#                          linked programs run in the guest. MODDIR holds the guest kernel's
#                          9p and overlay modules and their load-order (fetch-kernel.sh line 3).
#   --add HOST[:GUEST]     put a file or directory into the guest; GUEST defaults to
#                          /bin/<name>, a GUEST ending in / gets <name> appended. Without
#                          --host-root, executables must be statically linked (the guest has
#                          no libc). Repeatable.
#   --env K=V              set K=V for the guest command. Repeatable.
#   --timeout SECONDS      stop the guest after this long (default ${HTTPTRACE_VM_TIMEOUT:-300})
#   --mem MB               guest memory (default 1536)
#   --smp N                guest CPUs (default 2)
#   --append ARGS          extra kernel command line arguments
#   --log FILE             also write the guest console (CR and escapes stripped) to FILE
# The guest console streams to stdout; the guest prints "guest-kernel: <uname -r>" before the
# command runs. Exit status: the guest command's, or 124 if the guest timed out, 125 if it
# stopped without reporting one (kernel panic, init failure, qemu error).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

die() { echo "run-guest: $*" >&2; exit 125; }
usage() { sed -n '4,21s/^# \{0,1\}//p' "$0" >&2; exit 2; }

# sq quotes a string for sh: 'it'\''s'.
sq() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }

kernel='' host_root='' timeout_s=${HTTPTRACE_VM_TIMEOUT:-300} mem=1536 smp=2 extra_append='' log_file=''
adds=() envs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) kernel=${2:?--kernel needs a file}; shift 2 ;;
    --host-root) host_root=${2:?--host-root needs the modules directory}; shift 2 ;;
    --add) adds+=("${2:?--add needs HOST[:GUEST]}"); shift 2 ;;
    --env) envs+=("${2:?--env needs K=V}"); shift 2 ;;
    --timeout) timeout_s=${2:?--timeout needs seconds}; shift 2 ;;
    --mem) mem=${2:?--mem needs MB}; shift 2 ;;
    --smp) smp=${2:?--smp needs a count}; shift 2 ;;
    --append) extra_append=${2:?--append needs arguments}; shift 2 ;;
    --log) log_file=${2:?--log needs a file}; shift 2 ;;
    --) shift; break ;;
    -h|--help) usage ;;
    *) echo "run-guest: unknown option '$1'" >&2; usage ;;
  esac
done
[ $# -gt 0 ] || { echo "run-guest: no guest command given (after --)" >&2; usage; }
[ -n "$kernel" ] || { echo "run-guest: --kernel is required" >&2; usage; }
[ -f "$kernel" ] || die "kernel image $kernel not found"
[[ $timeout_s =~ ^[0-9]+$ ]] || die "--timeout wants whole seconds, got '$timeout_s'"
for tool in qemu-system-x86_64 cpio gzip file timeout; do
  command -v "$tool" >/dev/null || die "$tool not found (run scripts/deps.sh)"
done
busybox=/bin/busybox
if [ ! -x "$busybox" ] || ! file -L -b "$busybox" | grep -q 'statically linked'; then
  die "static busybox not found at $busybox (install busybox-static)"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/run-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,etc/guest,dev,proc,sys,tmp,root}
cp "$busybox" "$root/bin/busybox"
cp "$here/guest-init.sh" "$root/init"
chmod 755 "$root/init"
# With the host's root, added files go to /added and init copies them over that root.
added=$root
qemu_share=()
if [ -n "$host_root" ]; then
  [ -s "$host_root/load-order" ] || die "--host-root: no load-order in $host_root (fetch-kernel.sh writes it)"
  mkdir -p "$root/lib/guest-modules" "$root/added"
  cp "$host_root"/*.ko "$host_root/load-order" "$root/lib/guest-modules/"
  : >"$root/etc/guest/host-root"
  added=$root/added
  # multidevs=remap keeps inode numbers unique across the host's mounts.
  qemu_share=(-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap
    -device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot)
fi
# A console node lets the kernel hand /init its stdio before devtmpfs is mounted.
[ "$(id -u)" -ne 0 ] || mknod "$root/dev/console" c 5 1

# check_static refuses dynamically linked executables, which cannot run without a libc.
check_static() {
  local f=$1 kind
  [ -z "$host_root" ] || return 0
  kind=$(file -L -b "$f")
  case "$kind" in
    *ELF*dynamically\ linked*) die "$f is dynamically linked; the guest has no libc (build it static, e.g. CGO_ENABLED=0 or -extldflags -static)" ;;
  esac
}

for spec in ${adds[@]+"${adds[@]}"}; do
  host_path=${spec%%:*}
  guest_path=/bin/
  [ "$host_path" = "$spec" ] || guest_path=${spec#*:}
  [ -e "$host_path" ] || die "--add: $host_path does not exist"
  case "$guest_path" in
    /*) ;;
    *) die "--add: guest path '$guest_path' must be absolute" ;;
  esac
  case "$guest_path" in */) guest_path=$guest_path$(basename "$host_path") ;; esac
  if [ -d "$host_path" ]; then
    while IFS= read -r -d '' f; do check_static "$f"; done \
      < <(find "$host_path" -type f -perm -u+x -print0)
  else
    check_static "$host_path"
  fi
  mkdir -p "$added$(dirname "$guest_path")"
  cp -a -L "$host_path" "$added$guest_path"
done

# The command file: environment, then the command with each argument quoted.
{
  for kv in ${envs[@]+"${envs[@]}"}; do
    k=${kv%%=*}
    [[ $kv == *=* && $k =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "--env wants K=V, got '$kv'"
    printf 'export %s=%s\n' "$k" "$(sq "${kv#*=}")"
  done
  printf 'exec'
  for a in "$@"; do printf ' %s' "$(sq "$a")"; done
  printf '\n'
} >"$root/etc/guest/cmd.sh"
# A per-run random marker cannot be produced by accident in the command's own output.
marker="run-guest-exit-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$marker" >"$root/etc/guest/marker"

(cd "$root" && find . -print0 | cpio --null -o -H newc --owner=0:0 --quiet) | gzip -1 >"$work/initrd.gz" \
  || die "cannot build the initramfs"

console=$work/console.log
start=$(date +%s)
# Single-threaded TCG: with one host thread per vCPU (the default), a guest
# patching kernel text on one CPU (static keys flipped when a tracepoint or
# kprobe is attached) while the other CPU runs it was seen to lock both CPUs
# up for minutes on 6.1. One thread emulating both CPUs does not; it is no
# slower here.
set +e
timeout --kill-after=10 "$timeout_s" \
  qemu-system-x86_64 -accel "tcg,thread=${HTTPTRACE_TCG_THREAD:-single}" -m "$mem" -smp "$smp" -nographic -no-reboot -nic none \
    -kernel "$kernel" -initrd "$work/initrd.gz" ${qemu_share[@]+"${qemu_share[@]}"} \
    -append "console=ttyS0 rdinit=/init panic=-1 quiet${extra_append:+ $extra_append}" \
    </dev/null 2>&1 | sed -u -e 's/\r//g' -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1bc//g' | tee "$console"
status=("${PIPESTATUS[@]}")
set -e
elapsed=$(( $(date +%s) - start ))
[ -z "$log_file" ] || cp "$console" "$log_file"

rc=$(sed -n "s/^$marker \([0-9]\{1,3\}\)\$/\1/p" "$console" | tail -n1)
if [ -n "$rc" ]; then
  echo "run-guest: guest command exited with $rc after ${elapsed}s" >&2
  exit "$rc"
fi
if [ "${status[0]}" -eq 124 ] || [ "${status[0]}" -eq 137 ]; then
  echo "run-guest: guest timed out after ${timeout_s}s without reporting an exit code" >&2
  exit 124
fi
if grep -q 'Kernel panic' "$console"; then
  echo "run-guest: guest kernel panicked: $(grep -m1 'Kernel panic' "$console")" >&2
else
  echo "run-guest: guest stopped after ${elapsed}s without reporting an exit code (qemu exit ${status[0]})" >&2
fi
exit 125
