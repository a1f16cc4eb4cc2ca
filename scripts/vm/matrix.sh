#!/usr/bin/env bash
# Runs the end-to-end test binary in qemu guests across Debian kernels and attach modes; prints PASS/FAIL per pair.
#
# Environment:
#   HTTPTRACE_BIN  statically linked httptrace binary (required); /bin/httptrace in the guest
#   E2E_BIN        statically linked test binary from `go test -c` (required); /bin/e2e.test
#   KERNELS        kernel lines, default "5.10 6.1 6.12" (5.10=bullseye, 6.1=bookworm, 6.12=trixie)
#   MODES          attach modes, default "kprobe tracepoint"
#   E2E_RUN        -test.run pattern, default '^TestE2E'
#   RESULTS_DIR    logs, default ${TMPDIR:-/tmp}/httptrace-matrix; one directory per kernel line
#                  holding boot.log (whole console), <mode>.log (that mode's output) and run.err
#   VM_TIMEOUT     seconds per boot, default 60 + 120 per mode (a run takes about 10 s)
#   VERBOSE=1      stream the guest console to stderr
# Each kernel is fetched and booted once; inside, the test binary runs once per mode with
# HTTPTRACE_BIN=/bin/httptrace HTTPTRACE_ATTACH=<mode> HTTPTRACE_E2E_GUEST=1.
# Output, one line per kernel x mode (seconds = that mode's test run, timed in the guest):
#   PASS|FAIL kernel=<guest uname -r> mode=<requested> reported=<attach> expected=N captured=N missed=N kernel_missed=N|n/a seconds=S [reason="..."]
# (missed: probe hits httptrace's summary counts as missed; kernel_missed: the kernel's own
# kprobe miss count, which kernels before 6.7 do not expose)
# A pair passes when the test binary exits 0, printed at least one e2e-result line, and every
# such line reports the requested attach mode (counts are summed over the lines). A kernel that
# cannot be fetched or booted fails every mode with its reason. Exit status 1 if anything failed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib.sh
. "$here/../lib.sh"

die() { echo "matrix: $*" >&2; exit 2; }

kernels=${KERNELS:-5.10 6.1 6.12}
modes=${MODES:-kprobe tracepoint}
e2e_run=${E2E_RUN:-^TestE2E}
results=${RESULTS_DIR:-${TMPDIR:-/tmp}/httptrace-matrix}
read -r -a mode_list <<<"$modes"
[ ${#mode_list[@]} -gt 0 ] || die "MODES is empty"
for m in "${mode_list[@]}"; do
  [[ $m =~ ^[A-Za-z0-9_-]+$ ]] || die "bad mode '$m' in MODES"
done
vm_timeout=${VM_TIMEOUT:-$((60 + 120 * ${#mode_list[@]}))}

# Both binaries must exist and be static: the guest has busybox and nothing else.
for var in HTTPTRACE_BIN E2E_BIN; do
  f=${!var:-}
  [ -n "$f" ] || die "$var is not set (path of a statically linked binary)"
  if [ ! -f "$f" ] || [ ! -x "$f" ]; then die "$var=$f is not an executable file"; fi
  ! file -L -b "$f" | grep -q 'dynamically linked' \
    || die "$var=$f is dynamically linked; build it static (CGO_ENABLED=0, or -extldflags -static)"
done
mkdir -p "$results" || die "cannot create RESULTS_DIR $results"

# The guest side: run the test binary once per mode between marker lines.
guest_script=$results/matrix-guest.sh
cat >"$guest_script" <<'GUEST'
# Runs the e2e test binary once per attach mode given as arguments (busybox sh).
run=$1; shift
fail=0
for mode in "$@"; do
  echo
  echo "matrix-mode-begin: $mode"
  start=$(date +%s)
  HTTPTRACE_BIN=/bin/httptrace HTTPTRACE_ATTACH=$mode HTTPTRACE_E2E_GUEST=1 \
    /bin/e2e.test -test.v -test.run "$run"
  rc=$?
  echo
  echo "matrix-mode-end: $mode rc=$rc seconds=$(( $(date +%s) - start ))"
  [ "$rc" -eq 0 ] || fail=1
done
exit $fail
GUEST

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

# report prints one summary line, and the tail of the mode's log when it failed.
report() { # verdict kernel mode reported expected captured missed seconds reason logfile
  local line="$1 kernel=$2 mode=$3 reported=$4 expected=$5 captured=$6 missed=$7 kernel_missed=${kmissed:--} seconds=$8"
  [ -z "$9" ] || line="$line reason=\"$9\""
  echo "$line" | tee -a "$summary"
  if [ "$1" = PASS ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    if [ -n "${10}" ] && [ -s "${10}" ]; then
      echo "    --- last 30 lines of ${10}"
      tail -n 30 "${10}" | sed 's/^/    | /'
    fi
  fi
}

# fail_all marks every mode of a kernel line as failed with one reason.
fail_all() { # kernel reason logfile
  local m
  for m in "${mode_list[@]}"; do report FAIL "$1" "$m" - - - - - "$2" "$3"; done
}

for line in $kernels; do
  if ! suite=$(suite_of "$line"); then
    fail_all "$line" "unknown kernel line $line (known: 5.10 6.1 6.12)" ""
    continue
  fi
  dir=$results/$line
  rm -rf "$dir"
  mkdir -p "$dir"

  # Fetch (or reuse) the suite's kernel.
  t0=$(date +%s)
  if ! out=$("$here/fetch-kernel.sh" "$suite" 2>"$dir/fetch.err"); then
    fail_all "$line($suite)" "fetch failed: $(tail -n1 "$dir/fetch.err")" "$dir/fetch.err"
    continue
  fi
  { read -r vmlinuz; read -r release; } <<<"$out"
  fetch_s=$(( $(date +%s) - t0 ))

  # Boot once and run every mode.
  log "kernel $line ($suite, $release): booting, modes: ${mode_list[*]}"
  t0=$(date +%s)
  set +e
  # The console goes to boot.log always, and to stderr too with VERBOSE=1.
  console=/dev/null
  [ "${VERBOSE:-}" != 1 ] || console=/dev/stderr
  "$here/run-guest.sh" --kernel "$vmlinuz" --timeout "$vm_timeout" --log "$dir/boot.log" \
    --add "$HTTPTRACE_BIN:/bin/httptrace" --add "$E2E_BIN:/bin/e2e.test" \
    --add "$guest_script:/etc/matrix-guest.sh" \
    -- sh /etc/matrix-guest.sh "$e2e_run" "${mode_list[@]}" >"$console" 2>"$dir/run.err"
  guest_rc=$?
  set -e
  boot_s=$(( $(date +%s) - t0 ))
  log "kernel $line ($suite, $release): fetch ${fetch_s}s, boot+run ${boot_s}s, guest exit $guest_rc"
  echo "kernel $line suite=$suite release=$release fetch_seconds=$fetch_s boot_run_seconds=$boot_s" >>"$summary"

  guest_kernel=$(sed -n 's/.*guest-kernel: \([^ ]*\)$/\1/p' "$dir/boot.log" 2>/dev/null | head -n1)
  if [ -z "$guest_kernel" ]; then
    fail_all "$release" "guest did not boot: $(tail -n1 "$dir/run.err")" "$dir/boot.log"
    continue
  fi

  for m in "${mode_list[@]}"; do
    mlog=$dir/$m.log
    # This mode's output: from its begin marker to its end marker (or to the end of the log).
    awk -v m="$m" '$0 == "matrix-mode-begin: " m {on = 1} on {print} on && index($0, "matrix-mode-end: " m " ") == 1 {exit}' \
      "$dir/boot.log" >"$mlog"
    if [ ! -s "$mlog" ]; then
      report FAIL "$guest_kernel" "$m" - - - - - "mode never started: $(tail -n1 "$dir/run.err")" "$dir/boot.log"
      continue
    fi
    end=$(grep -m1 "^matrix-mode-end: $m " "$mlog" || true)
    rc=$(sed -n 's/.* rc=\([0-9]*\).*/\1/p' <<<"$end")
    secs=$(sed -n 's/.* seconds=\([0-9]*\).*/\1/p' <<<"$end")
    # Sum the counts of every e2e-result line; collect the distinct attach modes reported.
    read -r n reported expected captured missed < <(
      grep -o 'e2e-result: attach=[^ ]* expected=[0-9]* captured=[0-9]* missed=[0-9]*' "$mlog" \
        | awk '{ split($2, a, "="); split($3, e, "="); split($4, c, "="); split($5, x, "=");
                 if (!(a[2] in seen)) { seen[a[2]] = 1; att = att (att == "" ? "" : ",") a[2] }
                 n++; E += e[2]; C += c[2]; X += x[2] }
               END { if (n) print n, att, E, C, X; else print 0, "-", "-", "-", "-" }')
    # What the kernel itself counted as kprobe misses (6.7+; n/a before).
    kmissed=$(grep -o 'e2e-result: .* kernel_missed=[^ ]*' "$mlog" | sed 's/.*kernel_missed=//' | tail -n1)
    reason=
    if [ -z "$end" ]; then
      reason="guest stopped during this mode: $(tail -n1 "$dir/run.err")"
      secs=-
    elif [ "$rc" != 0 ]; then
      reason="test binary exited $rc"
    elif [ "$n" -eq 0 ]; then
      reason="no e2e-result line"
    elif [ "$reported" != "$m" ]; then
      reason="tool reported attach=$reported, requested $m"
    fi
    if [ -z "$reason" ]; then
      report PASS "$guest_kernel" "$m" "$reported" "$expected" "$captured" "$missed" "$secs" "" ""
    else
      report FAIL "$guest_kernel" "$m" "$reported" "$expected" "$captured" "$missed" "$secs" "$reason" "$mlog"
    fi
  done
done

echo "matrix: $passed passed, $failed failed (logs in $results)" | tee -a "$summary"
[ "$failed" -eq 0 ]
