#!/bin/busybox sh
# /init of the test guest: mounts the kernel filesystems, runs /etc/guest/cmd.sh, reports its exit code, powers off.
# shellcheck shell=dash
#
# run-guest.sh copies this file to /init of the initramfs, next to busybox, the files it was
# asked to add, /etc/guest/cmd.sh (environment and command) and /etc/guest/marker (the line
# prefix the host looks for). Runs under busybox sh (ash), not bash.
#
# With /etc/guest/host-root present, the host's root filesystem, shared read-only over
# virtio-9p with the tag hostroot, becomes the command's root: the modules listed in
# /lib/guest-modules/load-order are loaded, the share is mounted under an overlay whose upper
# layer is a tmpfs (so /tmp, /var/log, /var/lib/nginx ... are writable and nothing reaches the
# host), the files under /added are copied in, and the command runs chrooted there with the
# host's own programs (nginx, python3, node, bpftrace ...) on the guest's kernel.
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

# host_root builds /newroot from the host's root share; it prints why when it cannot.
host_root() {
  local m opts
  while read -r m; do
    insmod "/lib/guest-modules/$m" || { echo "guest-init: insmod $m failed"; return 1; }
  done </lib/guest-modules/load-order
  mkdir -p /mnt/lower /mnt/rw /newroot
  # cache=loose: the share is read-only, so the guest may cache it; large messages for speed.
  opts=trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose
  mount -t 9p -o "$opts" hostroot /mnt/lower || { echo "guest-init: mounting the 9p share failed"; return 1; }
  mount -t tmpfs -o mode=755 tmpfs /mnt/rw
  mkdir -p /mnt/rw/upper /mnt/rw/work
  mount -t overlay overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /newroot \
    || { echo "guest-init: the overlay over the host root failed"; return 1; }
  for m in proc sys dev; do mount --move "/$m" "/newroot/$m" || mount -o bind "/$m" "/newroot/$m"; done
  # Fresh state where the host's would mislead (pid files, sockets).
  mount -t tmpfs -o mode=755 tmpfs /newroot/run
  mkdir -p /newroot/etc/guest
  cp -a /etc/guest/. /newroot/etc/guest/
  [ ! -d /added ] || cp -a /added/. /newroot/
}

cd /tmp || cd /
if [ -f /etc/guest/host-root ]; then
  if host_root; then
    chroot /newroot /bin/sh -c 'cd /tmp && exec /bin/sh /etc/guest/cmd.sh'
    rc=$?
  else
    echo "guest-init: cannot use the host's root filesystem"
    rc=125
  fi
else
  sh /etc/guest/cmd.sh
  rc=$?
fi

# The marker goes on a line of its own even if the command's output did not end in a newline.
printf '\n%s %d\n' "$marker" "$rc"
sync
poweroff -f
# poweroff -f does not return; if it did, the kernel would panic on init's exit (panic=-1 reboots,
# and qemu -no-reboot stops).
sleep 5
