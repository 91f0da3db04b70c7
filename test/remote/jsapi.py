#!/usr/bin/env python3
"""A few JetStream API calls over the bare NATS protocol, for the cluster
tests (test/remote/nats.bash): the `nats` CLI is not packaged in Debian 12
and the tests need only these.

  jsapi.py req PORT SUBJECT [JSON]
      One request on 127.0.0.1:PORT (e.g. '$JS.API.STREAM.INFO.NAME'); prints
      the reply. Exit 1 when the reply is a JetStream error, 3 when nothing
      answers (no responders, or no reply within 5 s).
  jsapi.py pub PORT SUBJECT DATA [MSGID]
      Publish DATA (with header Nats-Msg-Id: MSGID if given) and wait for the
      stream's ack; prints it ({"stream":..,"seq":..,"duplicate":..}).
  jsapi.py msgs PORT STREAM
      Every message STREAM holds, oldest first, one line each:
      SEQ<TAB>SUBJECT<TAB>DATA, DATA's newlines turned into spaces. A key-value
      bucket B is the stream KV_B, its subjects $KV.B.KEY.
  jsapi.py watch PORT SUBJECT...
      Subscribe to each SUBJECT (wildcards allowed) and print the subject of
      every message published there, a line each, until killed. The first
      line, "ready", says the subscriptions are in place.

Everything goes over one connection; nothing is retried: a caller that
expects an election in progress polls.
"""
import base64
import json
import os
import socket
import sys

TIMEOUT = 5.0


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.f = self.s.makefile("rb")
        if not self.f.readline().startswith(b"INFO "):
            raise SystemExit("jsapi: not a NATS server on port %d" % port)
        self.inbox = "_INBOX.jsapi%d" % os.getpid()
        self.n = 0
        self.s.sendall(b'CONNECT {"verbose":false,"pedantic":false,"headers":true,'
                       b'"no_responders":true,"name":"jsapi"}\r\n'
                       + ("SUB %s.* 1\r\n" % self.inbox).encode())

    def request(self, subject, body=b"", headers=None):
        """(status, headers text, payload) of the reply; status None when it has none."""
        self.n += 1
        reply = "%s.%d" % (self.inbox, self.n)
        if headers:
            h = ("NATS/1.0\r\n" + "".join("%s: %s\r\n" % kv for kv in headers.items())
                 + "\r\n").encode()
            self.s.sendall(("HPUB %s %s %d %d\r\n" % (subject, reply, len(h), len(h) + len(body)))
                           .encode() + h + body + b"\r\n")
        else:
            self.s.sendall(("PUB %s %s %d\r\n" % (subject, reply, len(body))).encode()
                           + body + b"\r\n")
        while True:
            try:
                line = self.f.readline()
            except socket.timeout:
                return ("timeout", "", b"")
            if not line:
                raise SystemExit("jsapi: connection closed")
            if line.startswith(b"PING"):
                self.s.sendall(b"PONG\r\n")
            elif line.startswith(b"-ERR"):
                raise SystemExit("jsapi: " + line.decode().strip())
            elif line.startswith(b"MSG ") or line.startswith(b"HMSG "):
                p = line.split()
                total = int(p[-1])
                hlen = int(p[-2]) if line.startswith(b"HMSG ") else 0
                data = self.f.read(total + 2)[:total]
                if p[1].decode() != reply:
                    continue  # a late reply to an earlier request
                hdr = data[:hlen].decode(errors="replace")
                status = None
                if hdr.startswith("NATS/1.0 "):
                    status = hdr.split()[1]
                return (status, hdr, data[hlen:])


def api(c, subject, obj=None):
    st, _, body = c.request(subject, json.dumps(obj).encode() if obj is not None else b"")
    if st is not None:
        sys.stderr.write("jsapi: %s: status %s\n" % (subject, st))
        sys.exit(3)
    return json.loads(body)


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    cmd, port, arg = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    c = Conn(port)
    if cmd == "req":
        st, _, body = c.request(arg, sys.argv[4].encode() if len(sys.argv) > 4 else b"")
        if st is not None:
            sys.stderr.write("jsapi: %s: status %s\n" % (arg, st))
            sys.exit(3)
        print(body.decode())
        try:
            sys.exit(1 if "error" in json.loads(body) else 0)
        except ValueError:
            sys.exit(0)
    elif cmd == "pub":
        hdrs = {"Nats-Msg-Id": sys.argv[5]} if len(sys.argv) > 5 else None
        st, _, body = c.request(arg, sys.argv[4].encode(), hdrs)
        if st is not None:
            sys.stderr.write("jsapi: publish to %s: status %s\n" % (arg, st))
            sys.exit(3)
        print(body.decode())
        sys.exit(1 if "error" in json.loads(body) else 0)
    elif cmd == "msgs":
        info = api(c, "$JS.API.STREAM.INFO." + arg)
        if "error" in info:
            sys.stderr.write("jsapi: %s\n" % json.dumps(info["error"]))
            sys.exit(1)
        state = info["state"]
        for seq in range(state.get("first_seq", 0) or 1, state.get("last_seq", 0) + 1):
            r = api(c, "$JS.API.STREAM.MSG.GET." + arg, {"seq": seq})
            if "error" in r:
                if r["error"].get("err_code") == 10037:  # no message: acked or deleted
                    continue
                sys.stderr.write("jsapi: seq %d: %s\n" % (seq, json.dumps(r["error"])))
                sys.exit(1)
            m = r["message"]
            data = base64.b64decode(m.get("data", "")).decode(errors="replace")
            print("%d\t%s\t%s" % (m["seq"], m["subject"], data.replace("\r", " ").replace("\n", " ")))
    elif cmd == "watch":
        c.s.settimeout(None)
        c.s.sendall(b"".join(("SUB %s %d\r\n" % (subj, 100 + i)).encode()
                             for i, subj in enumerate(sys.argv[3:])) + b"PING\r\n")
        while True:
            line = c.f.readline()
            if not line:
                return
            if line.startswith(b"PONG"):
                print("ready", flush=True)
            elif line.startswith(b"PING"):
                c.s.sendall(b"PONG\r\n")
            elif line.startswith(b"MSG ") or line.startswith(b"HMSG "):
                p = line.split()
                c.f.read(int(p[-1]) + 2)
                print(p[1].decode(), flush=True)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
