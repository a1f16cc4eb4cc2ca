# Runs the kernel matrix's suites inside one guest, every suite once per attach mode, between marker lines.
# shellcheck shell=sh
#
# Usage (in the guest, by matrix.sh): sh matrix-guest.sh SUITES-FILE MODE...
# SUITES-FILE has one suite a line: NAME BINARY RUN-REGEX DIRECTORY ("-" for unused fields);
# the suite smoke checks that the host's servers and bpftrace start on this kernel, and times httptrace's start.
# Environment: SUITE_TIMEOUT (seconds a suite may take), HTTPTRACE_BIN.
# For each mode and suite it prints
#   matrix-begin: MODE NAME
#   ... the test binary's output (with its e2e-result lines) ...
#   matrix-end: MODE NAME rc=RC seconds=S
# Runs under the host's sh (dash) on the host's root, or busybox ash without it.
suites=$1
shift
limit=${SUITE_TIMEOUT:-240}
export HTTPTRACE_E2E_GUEST=1 HTTPTRACE_E2E_REQUIRE_ALL=1
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# smoke runs each of the host's programs the suites need once, and httptrace until it attaches.
smoke() { # mode
  n=0 ok=0
  for c in "nginx -v" "python3 -c 'import http.server'" "node -e 1" "bpftrace --version" \
    "$HTTPTRACE_BIN --version"; do
    n=$((n + 1))
    if out=$(timeout 60 sh -c "$c" 2>&1); then
      ok=$((ok + 1))
    else
      echo "smoke: '$c' failed: $(echo "$out" | tail -n 1)"
    fi
  done
  # How long httptrace takes to load and attach in this mode on this
  # kernel, for the record: every suite starts it many times. Timed by
  # /proc/uptime (busybox's date has no %N), bounded by the suite's limit.
  n=$((n + 1))
  sleep 600 & sp=$!
  log=/tmp/smoke-httptrace.log
  t0=$(cut -d' ' -f1 /proc/uptime)
  timeout -s KILL "$limit" "$HTTPTRACE_BIN" --attach "$1" --log-format text --pid "$sp" >/dev/null 2>"$log" & hp=$!
  for _ in $(seq $((limit * 10))); do
    grep -q 'msg="probes attached"' "$log" 2>/dev/null && break
    kill -0 "$hp" 2>/dev/null || break
    sleep 0.1
  done
  if grep -q 'msg="probes attached"' "$log"; then
    ok=$((ok + 1))
    echo "smoke: httptrace attached in mode $1 after $(awk -v a="$t0" '{ printf "%.1f", $1 - a }' /proc/uptime) s"
  else
    echo "smoke: httptrace did not attach in mode $1: $(tail -n 1 "$log")"
  fi
  kill -INT "$hp" 2>/dev/null
  kill "$sp" 2>/dev/null
  # Stopped within 10 s, or killed.
  for _ in $(seq 100); do kill -0 "$hp" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$hp" 2>/dev/null
  wait "$hp" 2>/dev/null
  echo "e2e-result: suite=smoke mode=$1 tools=$ok/$n"
  [ "$ok" -eq "$n" ]
}

fail=0
for mode in "$@"; do
  while read -r name bin run dir; do
    [ -n "$name" ] || continue
    echo
    echo "matrix-begin: $mode $name"
    start=$(date +%s)
    if [ "$name" = smoke ]; then
      smoke "$mode"
      rc=$?
    else
      # The package's directory, as under go test; the test binary's own timeout
      # prints its goroutines before the outer one kills it.
      ( cd "$dir" 2>/dev/null || cd /tmp
        HTTPTRACE_ATTACH=$mode exec timeout -s KILL "$((limit + 15))" "$bin" -test.v -test.count=1 \
          -test.timeout "${limit}s" -test.run "$run" </dev/null 2>&1 )
      rc=$?
    fi
    echo
    echo "matrix-end: $mode $name rc=$rc seconds=$(( $(date +%s) - start ))"
    [ "$rc" -eq 0 ] || fail=1
  done <"$suites"
done
exit $fail
