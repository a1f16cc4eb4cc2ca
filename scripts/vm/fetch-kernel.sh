#!/usr/bin/env bash
# Fetches the current Debian kernel image of a suite into a cache; prints its vmlinuz path and release.
#
# Usage: scripts/vm/fetch-kernel.sh SUITE      (SUITE: bullseye | bookworm | trixie)
# Output (stdout): line 1 the vmlinuz path, line 2 the kernel release (what `uname -r` says),
# line 3 the directory of the guest modules (see below).
# Cache: ${HTTPTRACE_CACHE:-/var/cache/httptrace}/kernels/SUITE/
#
# Guest modules: the guests mount the host's root over virtio-9p with an overlay on top, and
# Debian builds those drivers as modules. The modules named in GUEST_MODULES and everything
# they depend on (read from each module's .modinfo, since the package ships no modules.dep)
# are kept, uncompressed, in <kernel>/modules/, with load-order listing them dependencies first.
#
# The suite is read through a private apt configuration (its own sources list, lists, package
# cache and an empty dpkg status), so the host's apt sources and installed packages are never
# touched. Release files are checked against /usr/share/keyrings/debian-archive-keyring.gpg the
# normal apt way (signed-by), and the .deb against the hash in the signed Packages index.
# Keyrings: bookworm's debian-archive-keyring (2023.3+deb12u2 and later) already holds the
# bullseye, bookworm and trixie archive keys, so one keyring verifies all three suites. On an
# older keyring that lacks the trixie keys, apt fails with NO_PUBKEY: upgrade the host's
# debian-archive-keyring from bookworm (stable) updates, or point HTTPTRACE_KEYRING at a keyring
# extracted from trixie's debian-archive-keyring package.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$here/lib.sh"

# What the guest loads to reach the host's root: virtio PCI transport, 9p over virtio, overlayfs.
GUEST_MODULES="virtio_pci 9pnet_virtio 9p overlay"

die() { echo "fetch-kernel: $*" >&2; exit 1; }
warn() { echo "fetch-kernel: warning: $*" >&2; }

[ $# -eq 1 ] || die "usage: $0 SUITE (bullseye | bookworm | trixie)"
suite=$1
case "$suite" in
  bullseye|bookworm|trixie) ;;
  *) die "unknown suite '$suite' (want bullseye, bookworm or trixie)" ;;
esac
for tool in apt-get apt-cache dpkg-deb flock xz; do
  command -v "$tool" >/dev/null || die "$tool not found (this script needs a Debian host)"
done

keyring=${HTTPTRACE_KEYRING:-/usr/share/keyrings/debian-archive-keyring.gpg}
[ -r "$keyring" ] || die "keyring $keyring not readable (install debian-archive-keyring)"

cache=${HTTPTRACE_CACHE:-/var/cache/httptrace}/kernels/$suite
mkdir -p "$cache" || die "cannot create cache directory $cache"
# The file 'current' names the last kernel extracted: "<vmlinuz path> <release>".
current=$cache/current

# One fetch per suite at a time (matrix runs may overlap).
exec 9>"$cache/.lock"
flock 9

# print_current prints the cached kernel (path, release, modules) or fails if there is none.
print_current() {
  local path rel
  [ -s "$current" ] || return 1
  read -r path rel <"$current"
  [ -f "$path" ] || return 1
  [ -f "$(dirname "$(dirname "$path")")/modules/.complete" ] || return 1
  printf '%s\n%s\n%s\n' "$path" "$rel" "$(dirname "$(dirname "$path")")/modules"
}

# keep_modules copies the guest modules and their dependencies out of an extracted package
# tree into a directory, uncompressed, and writes load-order (dependencies first).
keep_modules() { # extracted-root dest-dir
  local root=$1 out=$2 moddir ko name dep
  moddir=$(find "$root/lib/modules" "$root/usr/lib/modules" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | head -n1 || true)
  [ -n "$moddir" ] || die "the package has no lib/modules directory"
  mkdir -p "$out"
  # Index: module name (dashes as underscores) -> file.
  declare -A file_of=()
  while IFS= read -r -d '' ko; do
    name=${ko##*/}
    name=${name%%.ko*}
    file_of[${name//-/_}]=$ko
  done < <(find "$moddir/kernel" -name '*.ko*' -print0)
  declare -A done_=()
  : >"$out/load-order"
  # visit loads a module's dependencies before the module (depth first).
  visit() {
    local n=${1//-/_} f deps d
    [ -z "${done_[$n]:-}" ] || return 0
    done_[$n]=1
    f=${file_of[$n]:-}
    [ -n "$f" ] || return 0 # built in
    case "$f" in
      *.xz) xz -dc "$f" >"$out/$n.ko" ;;
      *.zst) zstd -qdc "$f" >"$out/$n.ko" ;;
      *) cp "$f" "$out/$n.ko" ;;
    esac
    deps=$(tr '\0' '\n' <"$out/$n.ko" | sed -n 's/^depends=//p' | head -n1)
    for d in ${deps//,/ }; do visit "$d"; done
    echo "$n.ko" >>"$out/load-order"
  }
  for name in $GUEST_MODULES; do visit "$name"; done
  [ -s "$out/load-order" ] || die "none of the guest modules ($GUEST_MODULES) is in the package"
  touch "$out/.complete"
}

# Private apt tree: sources list, empty sources.list.d, lists, package cache, empty status.
apt_dir=$cache/apt
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/sources.list.d" \
  "$apt_dir/preferences.d"
: >"$apt_dir/status"
mirror=$(debian_mirror) || die "cannot determine the Debian mirror from the host's apt sources"
printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$suite" >"$apt_dir/sources.list"

apt_opts=(
  -o "Dir::Etc::sourcelist=$apt_dir/sources.list"
  -o "Dir::Etc::sourceparts=$apt_dir/sources.list.d"
  -o "Dir::Etc::preferences=/dev/null"
  -o "Dir::Etc::preferencesparts=$apt_dir/preferences.d"
  -o "Dir::State::Lists=$apt_dir/lists"
  -o "Dir::State::status=$apt_dir/status"
  -o "Dir::Cache=$apt_dir/cache"
  -o "APT::Architecture=amd64"
  -o "APT::Architectures=amd64"
  -o "Acquire::Languages=none"
  -o "Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled=false"
  -o "Acquire::http::Timeout=30"
  -o "Acquire::Retries=2"
  -o "Debug::NoLocking=true"
)

# Refresh the suite's index. A signature problem is fatal; an unreachable mirror falls back
# to the cached kernel.
update_log=$apt_dir/update.log
if ! apt-get "${apt_opts[@]}" -q update >"$update_log" 2>&1 \
  || grep -qE '^(W|E): (Failed to fetch|Some index files failed)' "$update_log"; then
  if grep -qE 'NO_PUBKEY|EXPKEYSIG|BADSIG|not signed|GPG error' "$update_log"; then
    cat "$update_log" >&2
    die "signature check of $suite failed against $keyring (see above)"
  fi
  if print_current >/dev/null; then
    warn "cannot refresh $suite from $mirror; using the cached kernel $(cut -d' ' -f2 "$current")"
    print_current
    exit 0
  fi
  cat "$update_log" >&2
  die "cannot fetch the $suite index from $mirror and no kernel is cached in $cache"
fi

# Resolve the image package the meta-package depends on today, and its version.
pkg=$(apt-cache "${apt_opts[@]}" depends linux-image-amd64 2>/dev/null \
  | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}')
[ -n "$pkg" ] || die "cannot resolve the kernel image package of $suite (apt-cache depends linux-image-amd64)"
ver=$(apt-cache "${apt_opts[@]}" show --no-all-versions "$pkg" 2>/dev/null | awk '$1 == "Version:" {print $2; exit}')
[ -n "$ver" ] || die "cannot find the version of $pkg in $suite"

dest=$cache/${pkg}_${ver//:/%3a}
if [ -f "$dest/.complete" ] && [ -f "$dest/modules/.complete" ]; then
  log "kernel $pkg $ver ($suite) already cached"
else
  log "downloading $pkg $ver from $suite"
  tmp=$(mktemp -d "$cache/.dl.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && apt-get "${apt_opts[@]}" -q download "$pkg=$ver" >"$tmp/download.log" 2>&1) \
    || { cat "$tmp/download.log" >&2; die "apt-get download $pkg=$ver failed"; }
  deb=$(find "$tmp" -maxdepth 1 -name "*.deb" | head -n1)
  [ -n "$deb" ] || die "apt-get download left no .deb for $pkg"
  # Keep boot/ (vmlinuz, config, System.map) and the few modules the guest loads; kprobes,
  # BPF, loopback and the serial console are built into Debian's kernels.
  mkdir -p "$tmp/root"
  dpkg-deb -x "$deb" "$tmp/root" || die "cannot extract $deb"
  keep_modules "$tmp/root" "$tmp/modules"
  rm -rf "$dest"
  mkdir -p "$dest"
  mv "$tmp/root/boot" "$dest/boot"
  mv "$tmp/modules" "$dest/modules"
  touch "$dest/.complete"
  rm -rf "$tmp"
  trap - EXIT
fi

vmlinuz=$(find "$dest/boot" -maxdepth 1 -name "vmlinuz-*" | head -n1)
[ -n "$vmlinuz" ] || die "no vmlinuz in $pkg ($dest/boot)"
release=${vmlinuz##*/vmlinuz-}
printf '%s %s\n' "$vmlinuz" "$release" >"$current.tmp" && mv "$current.tmp" "$current"

# Drop older kernels of this suite and the downloaded .deb files.
for old in "$cache"/linux-image-*; do
  [ "$old" = "$dest" ] || rm -rf "$old"
done
rm -f "$apt_dir"/cache/archives/*.deb

log "kernel $release: $vmlinuz"
printf '%s\n%s\n%s\n' "$vmlinuz" "$release" "$dest/modules"
