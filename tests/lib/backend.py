#!/usr/bin/env python3
"""A real server for flowlb tests: HTTP/1.1 with keep-alive, one thread per
connection. GET answers "NAME\n"; POST reads the whole body and answers
"NAME BYTES\n", so an upload proves every byte arrived. Listens on all
addresses (the VIP sits on lo in DR)."""
import argparse
import http.server
import socket
import socketserver


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: long-lived connections

    def _answer(self, text):
        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self._answer(self.server.name + "\n")

    def do_POST(self):
        left = int(self.headers.get("Content-Length", "0"))
        got = 0
        while left > 0:
            chunk = self.rfile.read(min(left, 65536))
            if not chunk:
                break
            got += len(chunk)
            left -= len(chunk)
        self._answer("%s %d\n" % (self.server.name, got))

    def log_message(self, fmt, *args):
        pass  # quiet: tests read answers, not logs


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    address_family = socket.AF_INET6

    def server_bind(self):
        # One dual-stack socket serves IPv4 and IPv6 VIPs alike.
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--port", type=int, default=80)
    a = ap.parse_args()
    srv = Server(("::", a.port), Handler)
    srv.name = a.name
    srv.serve_forever()


if __name__ == "__main__":
    main()
