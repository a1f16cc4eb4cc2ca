#!/usr/bin/env python3
"""Soak test: httptrace traces a prefork server that recycles its workers
while a load client sends about a million requests over loopback, a new
connection every few requests.

Reports exchanges logged against requests sent, httptrace's resident memory
over time and its peak (VmHWM), how many entries each of its BPF maps holds
at the end, and what the summary says was lost. Writes the report as
Markdown (--out) and exits 1 when memory grows after warm-up, when a map is
left holding entries, or when exchanges are missing without being counted
as lost.
"""

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HASH_TYPES = {"hash", "lru_hash", "percpu_hash", "lru_percpu_hash"}


def log(*args):
    print("soak:", *args, file=sys.stderr, flush=True)


class LineCounter(threading.Thread):
    """Counts the lines of a pipe, and those holding a marker, in chunks."""

    def __init__(self, pipe, marker):
        super().__init__(daemon=True)
        self.pipe, self.marker = pipe, marker
        self.lines = self.marked = 0

    def run(self):
        tail = b""
        while True:
            chunk = self.pipe.read1(1 << 20) if hasattr(self.pipe, "read1") else self.pipe.read(1 << 20)
            if not chunk:
                break
            data = tail + chunk
            cut = data.rfind(b"\n") + 1
            whole, tail = data[:cut], data[cut:]
            self.lines += whole.count(b"\n")
            self.marked += whole.count(self.marker)


class StderrLines(threading.Thread):
    """Keeps httptrace's diagnostics and notes when the probes are live."""

    def __init__(self, pipe):
        super().__init__(daemon=True)
        self.pipe, self.lines, self.attached = pipe, [], threading.Event()

    def run(self):
        for raw in self.pipe:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self.lines.append(line)
            if "probes attached" in line:
                self.attached.set()


def proc_status(pid):
    """VmRSS and VmHWM of a process in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0])
    return out


def owned_ids(pid, field):
    """IDs of the BPF objects (map_id, prog_id, link_id) a process holds open."""
    ids = set()
    fdinfo = f"/proc/{pid}/fdinfo"
    for fd in os.listdir(fdinfo):
        try:
            with open(os.path.join(fdinfo, fd)) as f:
                for line in f:
                    if line.startswith(field + ":"):
                        ids.add(int(line.split()[1]))
        except OSError:
            pass
    return ids


def bpftool_json(*args):
    out = subprocess.run(["bpftool", "-j", *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out) if out.strip() else []


def map_occupancy(pid):
    """Entries in each hash map httptrace holds; other map types are listed
    with their fixed size."""
    rows = []
    for mid in sorted(owned_ids(pid, "map_id")):
        info = bpftool_json("map", "show", "id", str(mid))
        row = {"id": mid, "name": info.get("name", "?"), "type": info.get("type", "?"),
               "max_entries": info.get("max_entries", 0), "entries": None}
        if row["type"] in HASH_TYPES:
            row["entries"] = len(bpftool_json("map", "dump", "id", str(mid)))
        rows.append(row)
    return rows


def wait_listening(proc, timeout=10):
    deadline = time.monotonic() + timeout
    line = proc.stdout.readline().decode()
    if not line.startswith("listening ") or time.monotonic() > deadline:
        raise RuntimeError(f"server did not start: {line!r}")
    return int(line.split()[1])


def summary_fields(lines):
    """The fields of httptrace's summary line (JSON diagnostics)."""
    for line in reversed(lines):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if str(rec.get("msg", "")).startswith("summary:"):
            return rec
    return {}


def flat(series, warmup_frac, tolerance, slack_kib):
    """Whether RSS after warm-up stays within tolerance of its level at the
    end of warm-up; returns (ok, baseline, later peak)."""
    if len(series) < 4:
        return False, 0, 0
    w = max(1, int(len(series) * warmup_frac))
    base = series[w - 1][1]
    later = max(s[1] for s in series[w:])
    return later <= base * (1 + tolerance) + slack_kib, base, later


def run(args):
    env_bin = os.path.abspath(args.bin)
    server = subprocess.Popen([sys.executable, os.path.join(HERE, "prefork.py"), "--workers", str(args.workers),
                               "--conns-per-worker", str(args.conns_per_worker),
                               "--max-seconds", str(args.max_seconds + 60)],
                              stdout=subprocess.PIPE)
    tracer = None
    try:
        port = wait_listening(server)
        log(f"prefork server PID {server.pid} on 127.0.0.1:{port}")
        tracer = subprocess.Popen([env_bin, "--pid", str(server.pid), "--attach", args.attach,
                                   "--log-format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        counter = LineCounter(tracer.stdout, b"/soak/")
        diag = StderrLines(tracer.stderr)
        counter.start()
        diag.start()
        if not diag.attached.wait(60):
            raise RuntimeError("httptrace did not attach:\n" + "\n".join(diag.lines))
        log(f"httptrace PID {tracer.pid} attached; sending {args.requests} requests")

        series, t0 = [], time.monotonic()
        load = subprocess.Popen([args.load, "-addr", f"127.0.0.1:{port}", "-requests", str(args.requests),
                                 "-per-conn", str(args.per_conn), "-concurrency", str(args.concurrency),
                                 "-max-time", f"{args.max_seconds}s"], stdout=subprocess.PIPE)
        while True:
            try:
                load.wait(timeout=args.sample_seconds)
                break
            except subprocess.TimeoutExpired:
                st = proc_status(tracer.pid)
                series.append((round(time.monotonic() - t0, 1), st["VmRSS"], counter.marked))
                log(f"t={series[-1][0]}s rss={st['VmRSS']}KiB logged={counter.marked}")
        sent = json.loads(load.stdout.read())
        # Idle: let the last exchanges and closes drain, then sample again.
        for _ in range(3):
            time.sleep(args.sample_seconds)
            st = proc_status(tracer.pid)
            series.append((round(time.monotonic() - t0, 1), st["VmRSS"], counter.marked))
        maps = map_occupancy(tracer.pid)
        hwm = proc_status(tracer.pid)["VmHWM"]
        tracer.send_signal(signal.SIGINT)
        code = tracer.wait(60)
        counter.join(10)
        diag.join(10)
        return {"sent": sent, "series": series, "maps": maps, "hwm_kib": hwm, "exit": code,
                "logged": counter.marked, "stdout_lines": counter.lines,
                "summary": summary_fields(diag.lines), "port": port}
    finally:
        if tracer and tracer.poll() is None:
            tracer.kill()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()


def verdicts(args, r):
    ok_flat, base, later = flat(r["series"], 0.25, args.rss_tolerance, args.rss_slack_kib)
    s = r["summary"]
    lost = s.get("events_lost", s.get("lost_events", 0)) or 0
    full = [m for m in r["maps"] if m["entries"] is not None and m["entries"] > args.map_slack]
    missing = r["sent"]["responses"] - r["logged"]
    return [
        ("load completed without errors", r["sent"]["errors"] == 0 and r["sent"]["responses"] == args.requests,
         f'{r["sent"]["responses"]} of {args.requests} responses, {r["sent"]["errors"]} errors'),
        ("httptrace stopped cleanly (exit 0)", r["exit"] == 0, f'exit {r["exit"]}'),
        ("memory flat after warm-up", ok_flat,
         f"RSS {base} KiB at the end of warm-up, at most {later} KiB later "
         f"(allowed {args.rss_tolerance:.0%} + {args.rss_slack_kib} KiB)"),
        ("hash maps drained when idle", not full,
         ", ".join(f'{m["name"]}={m["entries"]}' for m in full) or f"each at most {args.map_slack} entries"),
        ("every exchange logged or counted lost", missing <= 0 or lost > 0,
         f"{missing} not logged, events_lost={lost}"),
    ]


def markdown(args, r, checks):
    s = r["summary"]
    ver = subprocess.run([args.bin, "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# Soak test: last result",
        "",
        "Written by `make soak` (scripts/soak/soak.py); do not edit by hand.",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- tool: {ver}; kernel {platform.release()}; attach mode {args.attach}",
        f"- server: prefork.py, {args.workers} workers, each replaced after {args.conns_per_worker} connections "
        "(httptrace traces the master by PID)",
        f"- load: {args.requests} requests, {args.per_conn} per connection, {args.concurrency} connections in flight, "
        f"loopback; took {r['sent']['seconds']:.1f}s ({r['sent']['per_second']:.0f} requests/s)",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| requests sent / responses | {r['sent']['requests']} / {r['sent']['responses']} |",
        f"| exchanges logged (stdout records of /soak/ requests) | {r['logged']} |",
        f"| stdout lines | {r['stdout_lines']} |",
        f"| peak RSS of httptrace (VmHWM; the kernel updates it lazily, so it may trail the sampled VmRSS) | {r['hwm_kib']} KiB |",
    ]
    for key in ("exchanges", "incomplete", "unmatched", "gaps", "bytes_not_seen", "events_lost",
                "lost_events", "decode_errors", "records"):
        if key in s:
            lines.append(f"| summary {key} | {s[key]} |")
    lines += ["", "## Checks", ""]
    lines += [f"- {'PASS' if ok else 'FAIL'}: {name} ({why})" for name, ok, why in checks]
    lines += ["", "## BPF maps at the end (after 3 idle samples)", "",
              "| map | type | max entries | entries |", "| --- | --- | --- | --- |"]
    lines += [f"| {m['name']} | {m['type']} | {m['max_entries']} | "
              f"{m['entries'] if m['entries'] is not None else 'fixed size'} |" for m in r["maps"]]
    lines += ["", f"## Resident memory (VmRSS every {args.sample_seconds}s)", "",
              "| t (s) | RSS (KiB) | exchanges logged |", "| --- | --- | --- |"]
    lines += [f"| {t} | {rss} | {n} |" for t, rss, n in r["series"]]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", required=True, help="httptrace binary")
    ap.add_argument("--load", required=True, help="load client binary (scripts/soak/load)")
    ap.add_argument("--attach", default="tracepoint")
    ap.add_argument("--requests", type=int, default=1_000_000)
    ap.add_argument("--per-conn", type=int, default=10)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--conns-per-worker", type=int, default=200)
    ap.add_argument("--max-seconds", type=int, default=600, help="bound on the load phase")
    ap.add_argument("--sample-seconds", type=float, default=5)
    ap.add_argument("--rss-tolerance", type=float, default=0.10)
    ap.add_argument("--rss-slack-kib", type=int, default=4096)
    ap.add_argument("--map-slack", type=int, default=64, help="entries a hash map may keep when idle")
    ap.add_argument("--out", help="write the Markdown report here")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("soak: httptrace loads BPF programs; run as root")
    r = run(args)
    checks = verdicts(args, r)
    report = markdown(args, r, checks)
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)
    sys.exit(0 if all(ok for _, ok, _ in checks) else 1)


if __name__ == "__main__":
    main()
