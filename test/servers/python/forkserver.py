"""Fork-per-connection HTTP/1.1 server, as inetd-style servers are.

The parent accepts; a child per connection dup2()s the socket onto fds 0
and 1, reads requests from fd 0 with read(2), writes the head to fd 1 with
write(2) and the body with sendfile(2). Prints "listening ADDR"; every
answer carries X-Server-Pid, the child's pid.
"""
import os
import signal
import socket
import tempfile

BODY = b"fork-per-connection body\n" * 40


def write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]


def serve(body_fd, size):
    buf = b""
    while True:
        while b"\r\n\r\n" not in buf:
            chunk = os.read(0, 4096)
            if not chunk:
                return
            buf += chunk
        head, _, buf = buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        method = lines[0].split(b" ")[0]
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"connection" and value.strip().lower() == b"close":
                close = True
        write_all(1, b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                  b"X-Server-Pid: %d\r\nConnection: %s\r\n\r\n"
                  % (size, os.getpid(), b"close" if close else b"keep-alive"))
        if method != b"HEAD":
            offset = 0
            while offset < size:
                offset += os.sendfile(1, body_fd, offset, size - offset)
        if close:
            return


def main():
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    with tempfile.TemporaryFile() as f:
        f.write(BODY)
        f.flush()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        print("listening 127.0.0.1:%d" % listener.getsockname()[1], flush=True)
        while True:
            conn, _ = listener.accept()
            if os.fork() == 0:
                listener.close()
                os.dup2(conn.fileno(), 0)
                os.dup2(conn.fileno(), 1)
                conn.close()
                try:
                    serve(f.fileno(), len(BODY))
                finally:
                    os._exit(0)
            conn.close()


main()
