#!/usr/bin/env bash
# Installs everything httptrace needs to build, demo and test on Debian 12 (run as root).
# Idempotent: packages already present are left alone, so a second run is quick.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# Packages from bookworm itself.
base_pkgs=(
  clang llvm bpftool libelf-dev zlib1g-dev libzstd-dev pkg-config linux-libc-dev
  make gcc git file curl ca-certificates nodejs
  bpftrace qemu-system-x86 busybox-static cpio gzip xz-utils iproute2 vagrant
  nginx haproxy python3 wrk nghttp2-client apache2-utils strace dbus-daemon dbus-bin caddy
  prometheus podman runc netavark iptables  # netavark sets up container networks with iptables
  containerd  # Kubernetes nodes' runtime: pods are tested on a containerd of the test's own
  tmux  # the live view (--top) is tested in a real terminal
)
# libbpf 1.4 comes from bookworm-backports (bookworm's own is 1.1).
backport_pkgs=(libbpf-dev libbpf1)

missing() {
  local p out=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out+=("$p")
  done
  printf '%s\n' "${out[@]}"
}

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: run as root (it installs Debian packages)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive

bp=/etc/apt/sources.list.d/httptrace-bookworm-backports.sources
if [ ! -f "$bp" ]; then
  mirror=$(debian_mirror)
  log "adding bookworm-backports from $mirror"
  cat >"$bp" <<SRC
Types: deb
URIs: $mirror
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  updated=
fi

need=$(missing "${base_pkgs[@]}")
libbpf_ver=$(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null || true)
need_bp=
case "$libbpf_ver" in 1:1.4*|1:1.5*|1:1.6*) ;; *) need_bp=1 ;; esac

if [ -n "$need" ] || [ -n "$need_bp" ]; then
  log "apt-get update"
  apt-get update -qq
  if [ -n "$need" ]; then
    log "installing: $(echo $need)"
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $need >/dev/null
  fi
  if [ -n "$need_bp" ]; then
    log "installing libbpf from bookworm-backports"
    apt-get install -y -qq --no-install-recommends -t bookworm-backports "${backport_pkgs[@]}" >/dev/null
  fi
fi

# Caddy, Prometheus and containerd are test programs, not services of this
# machine: their packages start one (Caddy on port 80, Prometheus on 9090,
# containerd on its socket) where systemd runs.
for svc in caddy prometheus prometheus-node-exporter containerd; do
  if [ -d /run/systemd/system ] && systemctl is-enabled "$svc.service" >/dev/null 2>&1; then
    systemctl disable --now "$svc.service" >/dev/null 2>&1 || true
  fi
done

# Go is on the machine image at /usr/local/go; say so clearly if it is not.
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  echo "deps.sh: Go toolchain not found (expected /usr/local/go/bin/go)" >&2
  exit 1
fi
log "dependencies present"
