#!/usr/bin/env python3
"""A byte-for-byte TCP proxy in front of a real S3 server (radosgw) that can
hold requests, so a test can act at an exact point of the daemon's flow
(kill it between its download and its delete, break its credentials while
downloads wait).

  holdproxy.py --upstream PORT --port-file FILE --hold FILE --held FILE

Listens on 127.0.0.1:0 and writes the port to --port-file. While the file
given to --hold exists, a request whose request line ("METHOD PATH HTTP/1.1")
matches the regular expression that file holds waits before it is sent on;
each held request line is appended to --held once. Nothing is rewritten: the
SigV4 signature covers the Host header, which is the proxy's own address, and
the server checks it as sent.
"""
import argparse
import os
import re
import socket
import threading
import time

REQUEST_LINE = re.compile(rb"^([A-Z]+ \S+ HTTP/1\.[01])\r\n")


def hold_pattern(path):
    try:
        with open(path, "rb") as f:
            return re.compile(f.read().strip() or rb"$^")
    except FileNotFoundError:
        return None


def pipe(src, dst, args, upstream_side):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            m = REQUEST_LINE.match(data) if upstream_side else None
            if m:
                said = False
                while True:
                    pat = hold_pattern(args.hold)
                    if pat is None or not pat.search(m.group(1)):
                        break
                    if not said:
                        with open(args.held, "ab") as f:
                            f.write(m.group(1) + b"\n")
                        said = True
                    time.sleep(0.05)
            dst.sendall(data)
    except OSError:
        pass
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def serve(c, args):
    try:
        u = socket.create_connection(("127.0.0.1", args.upstream))
    except OSError:
        c.close()
        return
    threading.Thread(target=pipe, args=(c, u, args, True), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c, args, False), daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", type=int, required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--hold", required=True)
    ap.add_argument("--held", required=True)
    args = ap.parse_args()
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(args.port_file + ".tmp", args.port_file)
    while True:
        c, _ = s.accept()
        serve(c, args)


if __name__ == "__main__":
    main()
