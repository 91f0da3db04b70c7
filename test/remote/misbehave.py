#!/usr/bin/env python3
"""A small HTTP server that misbehaves on purpose, for the URL-packet tests.

Every body is the same deterministic byte stream (see data()), so a test can
build the expected file with `misbehave.py gen SIZE FILE`. Paths:

  /ok/NAME?size=N            Range and If-Match honoured, strong ETag
  /status/CODE?size=N        always that status (e.g. 404)
  /flaky/ID?fail=K&size=N    500 for the first K requests of ID, then like /ok
  /cut/ID?at=M&size=N        first request of ID: headers for N bytes, M bytes,
                             then the connection is closed; later ones like /ok
  /shortlen?size=N           announces N bytes, sends N/2, closes (always)
  /hangup?size=N&at=M        announces N bytes (200, Range ignored), sends M, closes
  /drip?size=N&bps=B         sends B bytes a second (a stalled transfer)
  /norange?size=N            ignores Range: always 200 with the whole body
  /badrange?size=N           answers a Range with the wrong Content-Range
  /log                       the requests seen so far, one JSON object a line

Usage: misbehave.py serve PORTFILE    (binds 127.0.0.1:0, writes the port)
       misbehave.py gen SIZE FILE
"""
import hashlib
import http.server
import json
import socketserver
import sys
import threading
import time
import urllib.parse

BLOCK_LEN = 1048573  # prime: a shifted range never matches by accident


def _block():
    out = bytearray()
    counter = 0
    while len(out) < BLOCK_LEN:
        out += hashlib.sha256(counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:BLOCK_LEN])


BLOCK = _block()


def data(start, end):
    """Bytes [start, end) of the stream."""
    out = bytearray()
    pos = start
    while pos < end:
        off = pos % BLOCK_LEN
        n = min(BLOCK_LEN - off, end - pos)
        out += BLOCK[off:off + n]
        pos += n
    return bytes(out)


COUNTS = {}
LOG = []
LOCK = threading.Lock()


def etag_for(size):
    return '"ingestd-test-%d"' % size


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def count(self, key):
        with LOCK:
            COUNTS[key] = COUNTS.get(key, 0) + 1
            return COUNTS[key]

    def send_body(self, size, honour_range=True, wrong_range=False):
        rng = self.headers.get("Range")
        start, end = 0, size - 1
        status = 200
        if rng and honour_range and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a)
            end = int(b) if b else size - 1
            end = min(end, size - 1)
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            status = 206
            im = self.headers.get("If-Match")
            if im is not None and im != etag_for(size) and im != "*":
                self.send_response(412)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(status)
        self.send_header("ETag", etag_for(size))
        self.send_header("Accept-Ranges", "bytes" if honour_range else "none")
        if status == 206:
            shown = start + 1 if wrong_range else start
            self.send_header("Content-Range", "bytes %d-%d/%d" % (shown, end, size))
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        if self.command == "HEAD":
            return
        pos = start
        while pos <= end:
            n = min(256 * 1024, end + 1 - pos)
            self.wfile.write(data(pos, pos + n))
            pos += n

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        parts = u.path.strip("/").split("/")
        size = int(q.get("size", "1000"))
        with LOCK:
            LOG.append({"path": self.path, "range": self.headers.get("Range"),
                        "if_match": self.headers.get("If-Match"), "t": time.time()})
        kind = parts[0]
        if kind == "log":
            with LOCK:
                body = "".join(json.dumps(e) + "\n" for e in LOG).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif kind == "ok":
            self.send_body(size)
        elif kind == "status":
            code = int(parts[1])
            body = b"no such thing\n"
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif kind == "flaky":
            if self.count(u.path) <= int(q.get("fail", "1")):
                body = b"try again\n"
                self.send_response(500)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            else:
                self.send_body(size)
        elif kind == "cut":
            if self.count(u.path) == 1:
                at = int(q.get("at", str(size // 2)))
                self.send_response(200)
                self.send_header("ETag", etag_for(size))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                self.wfile.write(data(0, at))
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
            else:
                self.send_body(size)
        elif kind == "shortlen":
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.write(data(0, size // 2))
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
        elif kind == "hangup":
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            self.wfile.write(data(0, int(q.get("at", "4"))))
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
        elif kind == "drip":
            bps = int(q.get("bps", "10"))
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            try:
                for pos in range(0, size, bps):
                    self.wfile.write(data(pos, min(size, pos + bps)))
                    self.wfile.flush()
                    time.sleep(1)
            except OSError:
                pass
        elif kind == "norange":
            self.send_body(size, honour_range=False)
        elif kind == "badrange":
            self.send_body(size, wrong_range=True)
        else:
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "gen":
        size = int(sys.argv[2])
        with open(sys.argv[3], "wb") as f:
            pos = 0
            while pos < size:
                n = min(BLOCK_LEN, size - pos)
                f.write(data(pos, pos + n))
                pos += n
        return
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        srv = Server(("127.0.0.1", 0), Handler)
        tmp = sys.argv[2] + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % srv.server_address[1])
        import os
        os.rename(tmp, sys.argv[2])
        srv.serve_forever()
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
