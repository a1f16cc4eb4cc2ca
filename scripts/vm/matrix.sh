#!/usr/bin/env bash
# Runs the test suites in qemu guests across Debian kernels and attach modes; prints PASS/FAIL per kernel x mode x suite.
#
# Environment:
#   HTTPTRACE_BIN     the httptrace binary (required); in the guest at /opt/matrix/httptrace
#   E2E_BIN           the e2e test binary (go test -c ./test/e2e), for the server suites
#   BPFTRACEDIFF_BIN  the bpftracediff test binary (go test -c ./test/bpftracediff)
#   GOSERVER_STRIPPED_BIN the Go server built with -s -w that the tls suite traces
#   SYSCALLSERVER_BIN the syscall-path server the syscalls suite drives (HTTPTRACE_SYSCALLSERVER
#                     in the guest); without it that suite finds its own or fails
#   KERNELS           kernel lines, default "5.10 6.1 6.12" (5.10=bullseye, 6.1=bookworm, 6.12=trixie)
#   MODES             attach modes, default "kprobe tracepoint"
#   SUITES            default "smoke nginx python node go proxy select syscalls tls gotls bpftrace-diff"; an entry
#                     NAME=REGEX runs E2E_BIN with -test.run REGEX under that name
#   HOST_ROOT         1 (default): the guest runs on the host's root filesystem (read-only
#                     9p share under a tmpfs overlay), so the host's nginx, python3, node and
#                     bpftrace run on the guest's kernel. 0: busybox and the added binaries only
#                     (they must be static; the server suites then fail for want of servers).
#   SRC_DIR           source tree the tests run in (their package directories), default this one
#   SUITE_TIMEOUT     seconds one suite may take in the guest, default 420
#   JOBS              kernels booted at once, default 1 (make vm-test: 2); the guests mostly
#                     wait, so two at once on 2 cores take two thirds of the time
#   VM_TIMEOUT        seconds per boot, default 120 + (SUITE_TIMEOUT + 15) x suites x modes
#   RESULTS_DIR       logs, default ${TMPDIR:-/tmp}/httptrace-matrix; per kernel line boot.log
#                     (whole console), <mode>-<suite>.log and run.err
#   VERBOSE=1         stream the guest console to stderr
# Each kernel is fetched and booted once; inside, every suite runs once per mode with
# HTTPTRACE_ATTACH=<mode>, HTTPTRACE_E2E_GUEST=1 and HTTPTRACE_E2E_REQUIRE_ALL=1 (matrix-guest.sh).
# Output, one line per kernel x mode x suite (seconds: that run, timed in the guest):
#   PASS|FAIL kernel=<guest uname -r> mode=<mode> suite=<suite> <counts> seconds=S [reason="..."]
# where <counts> are the fields of the suite's e2e-result lines (n/m counts summed over lines),
# e.g. exchanges=12/12 or requests=12/12. A suite passes when its test exits 0, prints at least
# one e2e-result line, and every such line names the requested mode. A suite that cannot run
# (binary not given, kernel not fetched or booted, guest stopped) fails with its reason.
# Exit status 1 if anything failed, 2 for bad usage.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/../lib.sh"

die() { echo "matrix: $*" >&2; exit 2; }

kernels=${KERNELS:-5.10 6.1 6.12}
modes=${MODES:-kprobe tracepoint}
suites=${SUITES:-smoke nginx python node go proxy select syscalls tls gotls bpftrace-diff}
host_root=${HOST_ROOT:-1}
src=$(cd "${SRC_DIR:-$here/../..}" && pwd) || die "SRC_DIR ${SRC_DIR:-} is not a directory"
suite_timeout=${SUITE_TIMEOUT:-420}
jobs=${JOBS:-1}
results=${RESULTS_DIR:-${TMPDIR:-/tmp}/httptrace-matrix}
read -r -a mode_list <<<"$modes"
read -r -a suite_list <<<"$suites"
[ ${#mode_list[@]} -gt 0 ] || die "MODES is empty"
[ ${#suite_list[@]} -gt 0 ] || die "SUITES is empty"
for m in "${mode_list[@]}"; do
  [[ $m =~ ^[A-Za-z0-9_-]+$ ]] || die "bad mode '$m' in MODES"
done
[[ $suite_timeout =~ ^[0-9]+$ ]] || die "SUITE_TIMEOUT wants whole seconds"
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "JOBS wants a positive count"
vm_timeout=${VM_TIMEOUT:-$((120 + (suite_timeout + 15) * ${#suite_list[@]} * ${#mode_list[@]}))}
[ -n "${HTTPTRACE_BIN:-}" ] || die "HTTPTRACE_BIN is not set"
mkdir -p "$results" || die "cannot create RESULTS_DIR $results"

# usable prints why a binary cannot go into the guest, or nothing.
usable() { # var
  local f=${!1:-}
  if [ -z "$f" ]; then echo "$1 is not set"
  elif [ ! -f "$f" ] || [ ! -x "$f" ]; then echo "$1=$f is not an executable file"
  elif [ "$host_root" != 1 ] && file -L -b "$f" | grep -q 'dynamically linked'; then
    echo "$1=$f is dynamically linked and HOST_ROOT=0 gives the guest no libc"
  fi
}
why=$(usable HTTPTRACE_BIN)
[ -z "$why" ] || die "$why"

# The guest's suite list (NAME BINARY REGEX DIR); suites that cannot run get a reason instead.
suites_file=$results/suites.txt
: >"$suites_file"
declare -A unrunnable=()
adds=(--add "$HTTPTRACE_BIN:/opt/matrix/httptrace" --add "$here/matrix-guest.sh:/opt/matrix/matrix-guest.sh"
  --add "$suites_file:/opt/matrix/suites.txt")
declare -A added=()
envs=(--env "HTTPTRACE_BIN=/opt/matrix/httptrace")
if [ -n "${SYSCALLSERVER_BIN:-}" ]; then
  why=$(usable SYSCALLSERVER_BIN)
  [ -z "$why" ] || die "$why"
  adds+=(--add "$SYSCALLSERVER_BIN:/opt/matrix/syscallserver")
  envs+=(--env "HTTPTRACE_SYSCALLSERVER=/opt/matrix/syscallserver")
fi
if [ -n "${GOSERVER_STRIPPED_BIN:-}" ]; then
  why=$(usable GOSERVER_STRIPPED_BIN)
  [ -z "$why" ] || die "$why"
  adds+=(--add "$GOSERVER_STRIPPED_BIN:/opt/matrix/goserver-stripped")
  envs+=(--env "HTTPTRACE_GOSERVER_STRIPPED=/opt/matrix/goserver-stripped")
fi
for s in "${suite_list[@]}"; do
  name=$s var=E2E_BIN dir=test/e2e
  case "$s" in
    smoke) echo "smoke - - -" >>"$suites_file"; continue ;;
    nginx) run='^(TestNginx|TestEarlyResponses|TestNginxAccessLog)$' ;;
    python) run='^TestPython$' ;;
    node) run='^(TestNode|TestHTTP2Node)$' ;;
    go) run='^(TestGo|TestEarlyResponseGo|TestHTTP2GRPC)$' ;; # TestHTTP2GRPCLarge: the host's run
    proxy) run='^(TestReverseProxy|TestHAProxySplice|TestUnixSockets|TestNotHTTP)$' ;;
    select) run='^(TestPortSelection|TestPortClientSide|TestPortNothingListening)$' ;; # TestFilters (user space only): the host's run
    syscalls) run='^(TestSyscallPaths|TestStreamIntegrity|TestConnectionEnds|TestManyIovecs)$' ;;
    tls) run='^TestTLS(Nginx|Adopted|PythonLateLoad|Node|CurlClient|UntracedNeighbour)$' ;;
    gotls) run='^TestTLS(Go|GoStackGrowth|GoWriteFailed|GoAdopted|GoWrapped|Caddy)$' ;;
    # In a guest, the two servers that take every probe of the program:
    # every read and write syscall path, and libssl's uprobes (the host's
    # make test-bpftrace-diff runs all five).
    bpftrace-diff) run='^TestSameRequests$/^(syscalls|nginx-tls)$' var=BPFTRACEDIFF_BIN dir=test/bpftracediff ;;
    *=*) name=${s%%=*} run=${s#*=} ;;
    *) die "unknown suite '$s' (known: smoke nginx python node go proxy select syscalls tls gotls bpftrace-diff, or NAME=REGEX)" ;;
  esac
  [[ $name =~ ^[A-Za-z0-9_-]+$ && $run =~ ^[^[:space:]]+$ ]] || die "bad suite '$s'"
  why=$(usable "$var")
  if [ -n "$why" ]; then
    unrunnable[$name]=$why
    continue
  fi
  guest_bin=/opt/matrix/$(basename "${!var}")
  if [ -z "${added[$var]:-}" ]; then
    adds+=(--add "${!var}:$guest_bin")
    added[$var]=1
  fi
  echo "$name $guest_bin $run $src/$dir" >>"$suites_file"
done

suite_of() {
  case "$1" in
    5.10) echo bullseye ;;
    6.1) echo bookworm ;;
    6.12) echo trixie ;;
    *) return 1 ;;
  esac
}

passed=0 failed=0
summary=$results/summary.txt
: >"$summary"

# report prints one result line, and the tail of its log when it failed.
report() { # verdict kernel mode suite counts seconds reason logfile
  local line="$1 kernel=$2 mode=$3 suite=$4${5:+ $5} seconds=$6"
  [ -z "$7" ] || line="$line reason=\"$7\""
  echo "$line" | tee -a "$summary"
  if [ "$1" = PASS ]; then
    passed=$((passed + 1))
    return
  fi
  failed=$((failed + 1))
  if [ -n "$8" ] && [ -s "$8" ]; then
    echo "    --- last 30 lines of $8"
    tail -n 30 "$8" | sed 's/^/    | /'
  fi
}

# fail_all fails every mode and suite of a kernel line with one reason.
fail_all() { # kernel reason logfile
  local m s
  for m in "${mode_list[@]}"; do
    for s in "${suite_list[@]}"; do report FAIL "$1" "$m" "${s%%=*}" "" - "$2" "$3"; done
  done
}

# counts sums the e2e-result lines of a log: prints "<lines> <modes seen> <fields>", where
# n/m counts (summed over lines) come first, fields keep their first-seen order, and the old format's
# expected=E captured=C becomes exchanges=C/E.
counts() { # logfile
  grep -o 'e2e-result: .*' "$1" | awk '
    { lines++
      ex = ""; ca = ""
      for (i = 2; i <= NF; i++) {
        k = $i; sub(/=.*/, "", k); v = substr($i, length(k) + 2)
        if (k == "mode" || k == "attach") { if (!(v in seen)) { seen[v] = 1; modes = modes (modes == "" ? "" : ",") v }; continue }
        if (k == "suite") continue
        if (k == "expected") { ex = v; continue }
        if (k == "captured") { ca = v; continue }
        add(k, v)
      }
      if (ex != "" && ca != "") add("exchanges", ca "/" ex)
    }
    function add(k, v,   p) {
      if (!(k in val)) order[++n] = k
      if (v ~ /^[0-9]+\/[0-9]+$/) {
        split(v, p, "/"); num[k] += p[1]; den[k] += p[2]; val[k] = num[k] "/" den[k]
      } else if (!(k in val)) val[k] = v
    }
    END {
      out = ""
      for (i = 1; i <= n; i++) if (order[i] in den) out = out (out == "" ? "" : " ") order[i] "=" val[order[i]]
      for (i = 1; i <= n; i++) if (!(order[i] in den)) out = out (out == "" ? "" : " ") order[i] "=" val[order[i]]
      print lines + 0, (modes == "" ? "-" : modes), out
    }'
}

# first_error prints a log's first test failure, panic or smoke failure, quotes replaced.
first_error() { # logfile
  { grep -m1 -E '^\s*[A-Za-z0-9_]+\.go:[0-9]+:|^panic:|^smoke:' "$1" || true; } \
    | sed 's/^\s*//; s/"/'\''/g' | cut -c1-160
}

# judge reports one suite's run from the boot log.
judge() { # dir guest_kernel mode suite
  local dir=$1 kernel=$2 m=$3 s=$4 log end rc secs n seen fields reason
  log=$dir/$m-$s.log
  awk -v b="matrix-begin: $m $s" -v e="matrix-end: $m $s " \
    '$0 == b {on = 1} on {print} on && index($0, e) == 1 {exit}' "$dir/boot.log" >"$log"
  if [ ! -s "$log" ]; then
    report FAIL "$kernel" "$m" "$s" "" - "never started: $(tail -n1 "$dir/run.err")" "$dir/boot.log"
    return
  fi
  end=$(grep -m1 "^matrix-end: $m $s " "$log" || true)
  rc=$(sed -n 's/.* rc=\([0-9]*\).*/\1/p' <<<"$end")
  secs=$(sed -n 's/.* seconds=\([0-9]*\).*/\1/p' <<<"$end")
  read -r n seen fields < <(counts "$log")
  reason=
  if [ -z "$end" ]; then
    reason="guest stopped during this suite: $(tail -n1 "$dir/run.err")" secs=-
  elif [ "$rc" = 137 ]; then
    reason="killed after ${SUITE_TIMEOUT:-240}s"
  elif [ "$rc" != 0 ]; then
    reason="test exited $rc: $(first_error "$log")"
  elif [ "$n" -eq 0 ]; then
    reason="no e2e-result line"
  elif [ "$seen" != "$m" ]; then
    reason="results name mode $seen, requested $m"
  fi
  if [ -z "$reason" ]; then
    report PASS "$kernel" "$m" "$s" "$fields" "$secs" "" ""
  else
    report FAIL "$kernel" "$m" "$s" "$fields" "$secs" "$reason" "$log"
  fi
}

# boot fetches a kernel line's kernel and runs every mode and suite in one boot. It writes
# the kernel line's directory: boot.log, run.err, kernel.txt ("<release>" once fetched) or
# fetch.err. Safe to run for several kernel lines at once.
boot() { # line
  local line=$1 suite dir out vmlinuz release moddir t0 fetch_s boot_s guest_rc console root_opt=()
  suite=$(suite_of "$line") || return 0
  dir=$results/$line
  t0=$(date +%s)
  if ! out=$("$here/fetch-kernel.sh" "$suite" 2>"$dir/fetch.err"); then
    return 0
  fi
  { read -r vmlinuz; read -r release; read -r moddir; } <<<"$out"
  echo "$release" >"$dir/kernel.txt"
  fetch_s=$(( $(date +%s) - t0 ))
  log "kernel $line ($suite, $release): booting; modes: ${mode_list[*]}; suites: ${suite_list[*]}"
  [ "$host_root" != 1 ] || root_opt=(--host-root "$moddir")
  t0=$(date +%s)
  # The console goes to boot.log always, and to stderr too with VERBOSE=1.
  console=/dev/null
  [ "${VERBOSE:-}" != 1 ] || console=/dev/stderr
  guest_rc=0
  "$here/run-guest.sh" --kernel "$vmlinuz" --timeout "$vm_timeout" --mem 2048 --log "$dir/boot.log" \
    "${root_opt[@]}" "${adds[@]}" "${envs[@]}" \
    --env "SUITE_TIMEOUT=$suite_timeout" \
    -- sh /opt/matrix/matrix-guest.sh /opt/matrix/suites.txt "${mode_list[@]}" >"$console" 2>"$dir/run.err" \
    || guest_rc=$?
  boot_s=$(( $(date +%s) - t0 ))
  log "kernel $line ($suite, $release): fetch ${fetch_s}s, boot+run ${boot_s}s, guest exit $guest_rc"
  echo "kernel $line suite=$suite release=$release fetch_seconds=$fetch_s boot_run_seconds=$boot_s" >"$dir/times.txt"
}

# verdicts reports every mode and suite of a booted (or failed) kernel line.
verdicts() { # line
  local line=$1 dir=$results/$1 guest_kernel m s
  if ! suite_of "$line" >/dev/null; then
    fail_all "$line" "unknown kernel line $line (known: 5.10 6.1 6.12)" ""
    return
  fi
  if [ ! -s "$dir/kernel.txt" ]; then
    fail_all "$line($(suite_of "$line"))" "fetch failed: $(tail -n1 "$dir/fetch.err")" "$dir/fetch.err"
    return
  fi
  cat "$dir/times.txt" >>"$summary" 2>/dev/null || true
  guest_kernel=$(sed -n 's/.*guest-kernel: \([^ ]*\)$/\1/p' "$dir/boot.log" 2>/dev/null | head -n1)
  if [ -z "$guest_kernel" ]; then
    fail_all "$(cat "$dir/kernel.txt")" "guest did not boot: $(tail -n1 "$dir/run.err")" "$dir/boot.log"
    return
  fi
  if grep -q '^guest-init: ' "$dir/boot.log"; then
    fail_all "$guest_kernel" "$(grep -m1 '^guest-init: ' "$dir/boot.log")" "$dir/boot.log"
    return
  fi
  for m in "${mode_list[@]}"; do
    for s in "${suite_list[@]}"; do
      s=${s%%=*}
      if [ -n "${unrunnable[$s]:-}" ]; then
        report FAIL "$guest_kernel" "$m" "$s" "" - "${unrunnable[$s]}" ""
      else
        judge "$dir" "$guest_kernel" "$m" "$s"
      fi
    done
  done
}

matrix_start=$(date +%s)
for line in $kernels; do
  rm -rf "${results:?}/$line"
  mkdir -p "$results/$line"
done
if [ "$jobs" -le 1 ]; then
  # One kernel after the other, each reported as soon as it is done.
  for line in $kernels; do
    boot "$line"
    verdicts "$line"
  done
else
  # Up to JOBS guests at once (each emulates its CPUs on one host thread), then the report.
  running=0
  for line in $kernels; do
    if [ "$running" -ge "$jobs" ]; then
      wait -n || true
      running=$((running - 1))
    fi
    boot "$line" &
    running=$((running + 1))
  done
  wait || true
  for line in $kernels; do verdicts "$line"; done
fi

wall=$(( $(date +%s) - matrix_start ))
echo "matrix: $passed passed, $failed failed in ${wall}s (logs in $results)" | tee -a "$summary"
[ "$failed" -eq 0 ]
