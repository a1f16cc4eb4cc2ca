"""HTTPS test server on Python's ssl and http.server, loading them late.

Arguments: CERT KEY GOFILE. Until GOFILE exists it imports nothing but os,
sys and time (so neither _ssl nor libssl is mapped): a tracer started
before can see the library loaded with dlopen. Then it listens on loopback
TCP with TLS and prints "listening ADDR". Answers 200 "ok PATH" with
X-Server-Pid.
"""
import os
import sys
import time

cert, key, gofile = sys.argv[1:4]
print("waiting", flush=True)
while not os.path.exists(gofile):
    time.sleep(0.02)

import ssl  # noqa: E402  (late on purpose)
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        body = ("ok %s\n" % self.path).encode()
        self.send_response(200)
        self.send_header("X-Server-Pid", str(os.getpid()))
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
srv.daemon_threads = True
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print("listening 127.0.0.1:%d" % srv.server_address[1], flush=True)
srv.serve_forever()
