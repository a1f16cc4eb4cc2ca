#!/usr/bin/env bash
# make demo: trace a real Go net/http server with httptrace and show the exchanges it logs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

[ "$(id -u)" -eq 0 ] || { echo "make demo loads BPF programs: run it as root" >&2; exit 1; }

work=$(mktemp -d)
cleanup() {
  [ -n "${tracer:-}" ] && kill "$tracer" 2>/dev/null || true
  [ -n "${server:-}" ] && kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

log "building the demo server (Go net/http)"
go build -o "$work/goserver" ./test/servers/goserver
"$work/goserver" 127.0.0.1:0 >"$work/server.out" 2>&1 &
server=$!
for _ in $(seq 50); do grep -q '^listening ' "$work/server.out" && break; sleep 0.1; done
addr=$(sed -n 's/^listening //p' "$work/server.out")
[ -n "$addr" ] || { cat "$work/server.out" >&2; echo "demo server did not start" >&2; exit 1; }
log "server pid $server listening on $addr"

log "starting: bin/httptrace -c configs/httptrace.yaml --pid $server"
bin/httptrace -c configs/httptrace.yaml --pid "$server" >"$work/exchanges.log" 2>"$work/httptrace.err" &
tracer=$!
for _ in $(seq 100); do grep -q 'probes attached' "$work/httptrace.err" && break; sleep 0.1; done
grep -q 'probes attached' "$work/httptrace.err" || { cat "$work/httptrace.err" >&2; exit 1; }

log "sending requests with curl (one carries a bearer token and an api key: both are redacted)"
curl -s -o /dev/null "http://$addr/"
curl -s -o /dev/null -H 'X-Request-Id: demo-42' -H 'Authorization: Bearer s3cr3t' "http://$addr/api/items?page=2&api_key=k3y"
curl -s -o /dev/null -X POST -H 'Content-Type: application/json' -d '{"name":"widget"}' "http://$addr/api/items"
curl -s -o /dev/null -X DELETE "http://$addr/api/items/7"
sleep 1
kill -INT "$tracer"; wait "$tracer" || true; tracer=

echo
echo "---- httptrace diagnostics (stderr) ----"
cat "$work/httptrace.err"
echo
echo "---- exchanges (stdout): request, status, sizes, latency ----"
cat "$work/exchanges.log"
n=$(grep -c '" [0-9][0-9][0-9] req=' "$work/exchanges.log" || true)
echo
[ "$n" -eq 4 ] || { echo "demo: expected 4 exchanges, httptrace logged $n" >&2; exit 1; }
if grep -q 's3cr3t\|k3y' "$work/exchanges.log"; then
  echo "demo: a secret reached the output" >&2; exit 1
fi
log "httptrace logged all $n exchanges, secrets redacted; --log-format json shows headers too"
