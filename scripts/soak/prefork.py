#!/usr/bin/env python3
"""Prefork HTTP/1.1 server for the soak: a master forks worker processes that
each serve a fixed number of connections, exit and are replaced.

The master is what httptrace traces by PID; every worker is a descendant
forked after tracing starts. Loopback only. Prints "listening PORT" once
the socket is bound, then serves until SIGTERM/SIGINT or --max-seconds.
"""

import argparse
import errno
import os
import signal
import socket
import sys

RESPONSE_BODY = b"ok\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: "
            + str(len(RESPONSE_BODY)).encode() + b"\r\n\r\n" + RESPONSE_BODY)
RESPONSE_CLOSE = RESPONSE.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
MAX_HEADER = 64 * 1024


def serve_connection(conn):
    """Answers each request on a keep-alive connection until the peer closes
    it or asks to close. Requests carry no body (GET)."""
    buf = b""
    while True:
        end = buf.find(b"\r\n\r\n")
        while end < 0:
            if len(buf) > MAX_HEADER:
                return
            chunk = conn.recv(65536)
            if not chunk:
                return
            buf += chunk
            end = buf.find(b"\r\n\r\n")
        head, buf = buf[:end], buf[end + 4:]
        close = b"\r\nconnection: close" in head.lower()
        conn.sendall(RESPONSE_CLOSE if close else RESPONSE)
        if close:
            return


def worker(lsock, conns):
    """Serves conns connections, then exits so the master replaces it."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
        signal.signal(sig, signal.SIG_DFL)
    signal.alarm(0)
    for _ in range(conns):
        conn, _ = lsock.accept()
        try:
            serve_connection(conn)
        except OSError:
            pass
        finally:
            conn.close()
    os._exit(0)


def spawn(lsock, conns):
    pid = os.fork()
    if pid == 0:
        try:
            worker(lsock, conns)
        finally:
            os._exit(1)
    return pid


class Stop(Exception):
    """Raised by the signal handler to end the master's loop."""


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--conns-per-worker", type=int, default=500)
    ap.add_argument("--max-seconds", type=float, default=900)
    args = ap.parse_args()

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", args.port))
    lsock.listen(1024)
    print("listening", lsock.getsockname()[1], flush=True)

    # A signal or the alarm raises Stop out of the blocking waitpid.
    def stop(signum, frame):
        raise Stop()

    workers = {spawn(lsock, args.conns_per_worker) for _ in range(args.workers)}
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
        signal.signal(sig, stop)
    signal.alarm(max(1, int(args.max_seconds)))
    recycled = 0
    try:
        while True:
            pid, _ = os.waitpid(-1, 0)
            if pid in workers:
                workers.discard(pid)
                recycled += 1
                workers.add(spawn(lsock, args.conns_per_worker))
    except (Stop, ChildProcessError):
        pass
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM):
        signal.signal(sig, signal.SIG_IGN)
    for pid in workers:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError as e:
            if e.errno != errno.ESRCH:
                raise
    for pid in workers:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    print("recycled", recycled, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
