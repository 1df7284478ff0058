"""Test app for the bluegreen scenario: reports its version, /up health endpoint, /slow?s=N slow request."""
import os
import signal
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("APP_VERSION", "unknown")
BROKEN = os.environ.get("APP_BROKEN") == "1"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server's name
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/up":
            status = 500 if BROKEN else 200
        elif url.path == "/slow":
            time.sleep(float(urllib.parse.parse_qs(url.query).get("s", ["5"])[0]))
            status = 200
        else:
            status = 200
        body = f"{VERSION}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (VERSION, fmt % args))


def main():
    server = ThreadingHTTPServer(("0.0.0.0", 8000), Handler)
    server.daemon_threads = True
    # docker stop sends SIGTERM: stop like a real app server does (Python ignores it by default as PID 1).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stderr.write(f"app {VERSION} listening on 8000{' (broken health check)' if BROKEN else ''}\n")
    sys.stderr.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
