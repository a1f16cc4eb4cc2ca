"""HTTP/1.1 test server on Python's http.server (threads, keep-alive).

Listens on loopback TCP, or on the unix socket named as its argument.
Prints "listening ADDR" once it accepts connections. /status/N/... answers
with status N, anything else 200 "ok PATH". Every answer carries
X-Server-Pid. Python reads sockets with recvfrom and writes with sendto.
"""
import os
import socketserver
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, with_body=True):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        code = 200
        parts = self.path.split("/")
        if len(parts) > 3 and parts[1] == "status":
            code = int(parts[2]) if parts[2].isdigit() else 400
        self.send_response(code)
        self.send_header("X-Server-Pid", str(os.getpid()))
        if code in (204, 304):
            self.end_headers()
            return
        body = ("ok %s\n" % self.path).encode()
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = answer

    def do_HEAD(self):
        self.answer(with_body=False)


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """http.server on a unix-domain stream socket."""

    daemon_threads = True

    def get_request(self):
        conn, _ = self.socket.accept()
        return conn, ("unix", 0)  # http.server wants a (host, port)


if len(sys.argv) > 1:
    server = UnixHTTPServer(sys.argv[1], Handler)
    print("listening unix:%s" % sys.argv[1], flush=True)
else:
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("listening 127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
