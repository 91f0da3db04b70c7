#!/usr/bin/env python3
"""A webhook receiver for the notifier tests.

  webhook.py PORTFILE RECORD [--mode ok|slow|error] [--delay SECONDS]

Listens on 127.0.0.1:0 (the port goes to PORTFILE) and appends each POSTed
body, which must be one JSON object, as one line to RECORD. Modes: ok answers
204 at once; slow waits --delay seconds first; error answers 500 (and still
records what it was sent, so a test can count the attempts).
"""
import argparse
import http.server
import json
import os
import socketserver
import threading
import time

LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    opts = None

    def log_message(self, fmt, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0") or "0"))
        try:
            doc = json.loads(body)
            ok = isinstance(doc, dict) and self.headers.get("Content-Type") == "application/json"
        except ValueError:
            doc, ok = body.decode("utf-8", "replace"), False
        with LOCK, open(self.opts.record, "a") as f:
            f.write(json.dumps({"ok": ok, "doc": doc, "t": time.time()}) + "\n")
        if self.opts.mode == "slow":
            time.sleep(self.opts.delay)
        status = 500 if self.opts.mode == "error" else 204 if ok else 400
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("portfile")
    ap.add_argument("record")
    ap.add_argument("--mode", choices=["ok", "slow", "error"], default="ok")
    ap.add_argument("--delay", type=float, default=5.0)
    Handler.opts = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    with open(Handler.opts.portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(Handler.opts.portfile + ".tmp", Handler.opts.portfile)
    srv.serve_forever()


if __name__ == "__main__":
    main()
