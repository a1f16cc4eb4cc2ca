#!/bin/busybox sh
# /init of the test guest: mounts the kernel filesystems, runs /etc/guest/cmd.sh, reports its exit code, powers off.
# shellcheck shell=dash
#
# run-guest.sh copies this file to /init of the initramfs, next to busybox, the files it was
# asked to add, /etc/guest/cmd.sh (environment and command) and /etc/guest/marker (the line
# prefix the host looks for). Runs under busybox sh (ash), not bash.
set -u

/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export HOME=/root

# Kernel filesystems; /dev first so the console below exists.
mkdir -p /proc /sys /dev /tmp /run /root
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm

# Loopback is all the network the tests need.
ip link set lo up || ifconfig lo 127.0.0.1 up
hostname guest
printf '\nguest-kernel: %s\n' "$(uname -r)"

marker=$(cat /etc/guest/marker)
cd /tmp || cd /
sh /etc/guest/cmd.sh
rc=$?

# The marker goes on a line of its own even if the command's output did not end in a newline.
printf '\n%s %d\n' "$marker" "$rc"
sync
poweroff -f
# poweroff -f does not return; if it did, the kernel would panic on init's exit (panic=-1 reboots,
# and qemu -no-reboot stops).
sleep 5
