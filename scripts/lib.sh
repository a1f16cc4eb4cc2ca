# Shell helpers shared by the project's scripts (sourced, not run).

# debian_mirror prints the Debian archive URI this machine's apt already uses,
# so other suites are fetched from the same place.
debian_mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
  if [ -z "$uri" ]; then
    uri=$(awk '$1 == "deb" && $0 ~ /bookworm/ && $0 !~ /security/ {print ($2 ~ /^\[/ ? $3 : $2); exit}' \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
  fi
  [ -n "$uri" ] || { echo "cannot find the Debian mirror in /etc/apt sources" >&2; return 1; }
  printf '%s\n' "${uri%/}"
}

# log prints a progress line on stderr.
log() { printf '==> %s\n' "$*" >&2; }
