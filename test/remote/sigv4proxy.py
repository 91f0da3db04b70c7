#!/usr/bin/env python3
"""A SigV4-verifying proxy in front of s3rver, for the S3 source tests.

s3rver checks only the access key id, so this proxy recomputes every
request's AWS Signature Version 4 exactly as AWS documents it for S3
(canonical URI encoded once, never normalised; canonical query sorted and
RFC 3986 encoded; header values trimmed; payload hash from
x-amz-content-sha256) and answers 403 SignatureDoesNotMatch when it differs.
Good requests go on to s3rver unchanged, except that --page-size caps
max-keys so that listings need continuation tokens.

  sigv4proxy.py selftest
      Check the implementation against AWS's published example signatures
      (the S3 "Signature Calculations for the Authorization Header" examples
      and cases of the Signature Version 4 test suite). Exits non-zero on a
      mismatch.
  sigv4proxy.py serve --upstream PORT --port-file FILE --key ID --secret S
                      [--page-size N] [--hold-delete FILE] [--hold-head FILE]
                      [--log FILE]
      Listen on 127.0.0.1:0 and write the port to FILE. While the file given
      to --hold-delete exists, DELETE requests wait (a test kills the daemon
      then); --hold-head the same for HEAD requests, which the daemon makes
      just before a DELETE. Every request is logged as one JSON line to --log.
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import os
import socketserver
import sys
import threading
import time
import urllib.parse

UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"


def uri_encode(s, keep_slash):
    """RFC 3986 encoding, uppercase hex, as SigV4 specifies."""
    if isinstance(s, str):
        s = s.encode("utf-8")
    out = []
    for b in s:
        c = chr(b)
        if c in UNRESERVED or (keep_slash and c == "/"):
            out.append(c)
        else:
            out.append("%%%02X" % b)
    return "".join(out)


def canonical_uri(raw_path):
    # S3: the path decoded, then encoded once; "." and ".." stay as they are.
    return uri_encode(urllib.parse.unquote_to_bytes(raw_path), True) or "/"


def canonical_query(raw_query):
    pairs = []
    if raw_query:
        for item in raw_query.split("&"):
            if item == "":
                continue
            k, _, v = item.partition("=")
            k = urllib.parse.unquote_to_bytes(k.replace("+", "%20"))
            v = urllib.parse.unquote_to_bytes(v.replace("+", "%20"))
            pairs.append((uri_encode(k, False), uri_encode(v, False)))
    pairs.sort()
    return "&".join("%s=%s" % kv for kv in pairs)


def canonical_headers(headers, signed):
    """headers: list of (name, value) as received; signed: lowercase names."""
    out = []
    for name in signed:
        values = [" ".join(v.strip().split()) for (n, v) in headers if n.lower() == name]
        out.append("%s:%s\n" % (name, ",".join(values)))
    return "".join(out)


def signing_key(secret, date, region, service):
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    k = hmac.new(k, region.encode(), hashlib.sha256).digest()
    k = hmac.new(k, service.encode(), hashlib.sha256).digest()
    return hmac.new(k, b"aws4_request", hashlib.sha256).digest()


def signature(method, raw_path, raw_query, headers, signed, payload_hash, amz_date, scope,
              secret, uri=None):
    creq = "\n".join([method, uri if uri is not None else canonical_uri(raw_path),
                      canonical_query(raw_query), canonical_headers(headers, signed),
                      ";".join(signed), payload_hash])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    date, region, service, _ = scope.split("/")
    key = signing_key(secret, date, region, service)
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest(), creq


def parse_authorization(value):
    if not value.startswith("AWS4-HMAC-SHA256 "):
        return None
    fields = {}
    for part in value[len("AWS4-HMAC-SHA256 "):].split(","):
        k, _, v = part.strip().partition("=")
        fields[k] = v
    if not {"Credential", "SignedHeaders", "Signature"} <= set(fields):
        return None
    return fields


def verify(method, raw_path, raw_query, headers, key_id, secret):
    """None when the request is signed right, else (code, message)."""
    h = {n.lower(): v for (n, v) in headers}
    auth = parse_authorization(h.get("authorization", ""))
    if auth is None:
        return ("AccessDenied", "missing or malformed AWS4-HMAC-SHA256 Authorization")
    ident, _, scope = auth["Credential"].partition("/")
    if ident != key_id:
        return ("InvalidAccessKeyId", "unknown access key id %s" % ident)
    amz_date = h.get("x-amz-date", "")
    if not amz_date.startswith(scope[:8]):
        return ("SignatureDoesNotMatch", "x-amz-date does not match the credential scope")
    try:
        t = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
    except ValueError:
        return ("AccessDenied", "bad x-amz-date")
    if abs((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds()) > 900:
        return ("RequestTimeTooSkewed", "x-amz-date is more than 15 minutes away")
    if scope.split("/")[2:] != ["s3", "aws4_request"]:
        return ("SignatureDoesNotMatch", "credential scope is not for s3")
    payload = h.get("x-amz-content-sha256")
    if payload is None:
        return ("InvalidRequest", "x-amz-content-sha256 is required")
    signed = auth["SignedHeaders"].split(";")
    if "host" not in signed or signed != sorted(signed):
        return ("SignatureDoesNotMatch", "SignedHeaders must be sorted and include host")
    if "x-amz-content-sha256" not in signed:
        return ("SignatureDoesNotMatch", "x-amz-content-sha256 is not signed")
    sig, creq = signature(method, raw_path, raw_query, headers, signed, payload, amz_date,
                          scope, secret)
    if not hmac.compare_digest(sig, auth["Signature"]):
        return ("SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you "
                "provided. Canonical request: " + creq.replace("\n", "\\n"))
    return None


# --- AWS's published examples --------------------------------------------------------

S3_KEY = "AKIAIOSFODNN7EXAMPLE"
S3_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
S3_HOST = "examplebucket.s3.amazonaws.com"
S3_DATE = "20130524T000000Z"
S3_SCOPE = "20130524/us-east-1/s3/aws4_request"
WELCOME = "Welcome to Amazon S3."

# S3 developer guide, "Signature Calculations for the Authorization Header:
# Transferring Payload in a Single Chunk": GET Object, PUT Object, GET Bucket
# Lifecycle, GET Bucket (List Objects).
S3_EXAMPLES = [
    ("GET", "/test.txt", "",
     [("Host", S3_HOST), ("Range", "bytes=0-9"), ("x-amz-content-sha256", EMPTY),
      ("x-amz-date", S3_DATE)],
     ["host", "range", "x-amz-content-sha256", "x-amz-date"], EMPTY,
     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
    ("PUT", "/test%24file.text", "",
     [("Host", S3_HOST), ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
      ("x-amz-date", S3_DATE), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
      ("x-amz-content-sha256", hashlib.sha256(WELCOME.encode()).hexdigest())],
     ["date", "host", "x-amz-content-sha256", "x-amz-date", "x-amz-storage-class"],
     hashlib.sha256(WELCOME.encode()).hexdigest(),
     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
    ("GET", "/", "lifecycle",
     [("Host", S3_HOST), ("x-amz-content-sha256", EMPTY), ("x-amz-date", S3_DATE)],
     ["host", "x-amz-content-sha256", "x-amz-date"], EMPTY,
     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
    # The query unsorted on purpose: canonical_query must sort it.
    ("GET", "/", "prefix=J&max-keys=2",
     [("Host", S3_HOST), ("x-amz-content-sha256", EMPTY), ("x-amz-date", S3_DATE)],
     ["host", "x-amz-content-sha256", "x-amz-date"], EMPTY,
     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
]

# The Signature Version 4 test suite (service "service"): the cases whose
# canonicalisation is the same for S3 (no path normalisation among them).
SUITE_KEY = "AKIDEXAMPLE"
SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_SCOPE = "20150830/us-east-1/service/aws4_request"
SUITE_DATE = "20150830T123600Z"
SUITE_HOST = [("Host", "example.amazonaws.com"), ("X-Amz-Date", SUITE_DATE)]
UNR = "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SUITE = [
    ("get-vanilla", "GET", "/", "", [], "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"),
    ("get-vanilla-empty-query-key", "GET", "/", "Param1=value1", [],
     "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"),
    ("get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1", [],
     "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"),
    ("get-vanilla-query-order-key", "GET", "/", "Param1=value2&Param1=Value1", [],
     "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"),
    ("get-vanilla-query-order-value", "GET", "/", "Param1=value2&Param1=value1", [],
     "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"),
    ("get-vanilla-query-unreserved", "GET", "/", UNR + "=" + UNR, [],
     "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"),
    ("get-vanilla-utf8-query", "GET", "/", "\u1234=bar", [],
     "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"),
    ("get-unreserved", "GET", "/" + UNR, "", [],
     "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"),
    ("get-utf8", "GET", "/\u1234", "", [],
     "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"),
    ("get-space", "GET", "/example space/", "", [],
     "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"),
    ("get-special-character", "GET", "/example/$delete", "", [],
     "a853c9b21b528b19643d00910d35b83a10c366a10833ceefb45edd6c80e40f27"),
    ("get-header-key-duplicate", "GET", "/", "",
     [("My-Header1", "value2"), ("My-Header1", "value2"), ("My-Header1", "value1")],
     "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"),
    ("get-header-value-order", "GET", "/", "",
     [("My-Header1", "value4"), ("My-Header1", "value1"), ("My-Header1", "value3"),
      ("My-Header1", "value2")],
     "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"),
    ("get-header-value-trim", "GET", "/", "",
     [("My-Header1", " value1"), ("My-Header2", ' "a   b   c"')],
     "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"),
    ("post-vanilla-query", "POST", "/", "Param1=value1", [],
     "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"),
    ("post-header-value-case", "POST", "/", "", [("My-Header1", "VALUE1")],
     "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"),
]


def selftest():
    bad = 0
    for (method, path, query, headers, signed, payload, want) in S3_EXAMPLES:
        got, _ = signature(method, path, query, headers, signed, payload, S3_DATE, S3_SCOPE,
                           S3_SECRET)
        ok = got == want
        bad += not ok
        print("%s s3 example %s %s%s" % ("ok  " if ok else "FAIL", method, path,
                                         "?" + query if query else ""))
    for (name, method, path, query, extra, want) in SUITE:
        headers = SUITE_HOST + extra
        signed = sorted({n.lower() for (n, _) in headers})
        # The suite's paths are raw text: encode them as a client would send them.
        raw = urllib.parse.quote(path, safe="/-._~$")
        raw_query = "&".join(
            urllib.parse.quote(k, safe="-._~") + "=" + urllib.parse.quote(v, safe="-._~")
            for k, _, v in (p.partition("=") for p in query.split("&") if p))
        got, _ = signature(method, raw, raw_query, headers, signed, EMPTY, SUITE_DATE,
                           SUITE_SCOPE, SUITE_SECRET)
        ok = got == want
        bad += not ok
        print("%s suite %s" % ("ok  " if ok else "FAIL", name))
    # And the verifier as a whole: the documented GET Object, then one tampered byte.
    method, path, query, headers, signed, payload, want = S3_EXAMPLES[0]
    auth = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" %
            (S3_KEY, S3_SCOPE, ";".join(signed), want))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    hdrs = [("Authorization", auth)] + headers
    r = verify(method, path, query, [(n, v) for (n, v) in hdrs], S3_KEY, S3_SECRET)
    ok = r is not None and r[0] == "RequestTimeTooSkewed"  # 2013 is long ago
    bad += not ok
    print("%s verify refuses a stale date" % ("ok  " if ok else "FAIL"))
    # Signed now: accepted; the same with one byte of the path changed: refused.
    scope = now[:8] + "/us-east-1/s3/aws4_request"
    hdrs = [("Host", "127.0.0.1:9"), ("x-amz-content-sha256", EMPTY), ("x-amz-date", now)]
    signed = ["host", "x-amz-content-sha256", "x-amz-date"]
    sig, _ = signature("GET", "/b/a%20b%2Bc", "list-type=2&prefix=%C3%A9", hdrs, signed, EMPTY,
                       now, scope, S3_SECRET)
    hdrs.append(("Authorization", "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                 "Signature=%s" % (S3_KEY, scope, ";".join(signed), sig)))
    good = verify("GET", "/b/a%20b%2Bc", "prefix=%C3%A9&list-type=2", hdrs, S3_KEY, S3_SECRET)
    tampered = verify("GET", "/b/a%20b%2Bd", "list-type=2&prefix=%C3%A9", hdrs, S3_KEY,
                      S3_SECRET)
    wrong = verify("GET", "/b/a%20b%2Bc", "list-type=2&prefix=%C3%A9", hdrs, S3_KEY, "other")
    for (what, ok) in (("verify accepts a good signature", good is None),
                       ("verify refuses a changed path", tampered is not None and
                        tampered[0] == "SignatureDoesNotMatch"),
                       ("verify refuses a wrong secret", wrong is not None and
                        wrong[0] == "SignatureDoesNotMatch")):
        bad += not ok
        print("%s %s" % ("ok  " if ok else "FAIL", what))
    print("%d passed, %d failed" % (len(S3_EXAMPLES) + len(SUITE) + 4 - bad, bad))
    return 1 if bad else 0


# --- the proxy --------------------------------------------------------------------------

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
       "upgrade"}


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    opts = None
    log_lock = threading.Lock()

    def log_message(self, fmt, *args):
        pass

    def record(self, status, code=None):
        if self.opts.log:
            with self.log_lock, open(self.opts.log, "a") as f:
                f.write(json.dumps({"method": self.command, "path": self.path,
                                    "status": status, "code": code, "t": time.time()}) + "\n")

    def fail(self, status, code, message):
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
                '<Message>%s</Message></Error>' % (code, message.replace("&", "&amp;")
                                                    .replace("<", "&lt;"))).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.record(status, code)

    def handle_any(self):
        u = urllib.parse.urlsplit(self.path)
        length = int(self.headers.get("Content-Length", "0") or "0")
        body = self.rfile.read(length) if length else b""
        headers = list(self.headers.items())
        err = verify(self.command, u.path, u.query, headers, self.opts.key, self.opts.secret)
        if err is not None:
            self.fail(403, err[0], err[1])
            return
        payload = dict((n.lower(), v) for (n, v) in headers).get("x-amz-content-sha256")
        if payload not in ("UNSIGNED-PAYLOAD",) and \
                hashlib.sha256(body).hexdigest() != payload:
            self.fail(400, "XAmzContentSHA256Mismatch", "payload hash does not match")
            return
        hold = {"DELETE": self.opts.hold_delete, "HEAD": self.opts.hold_head}.get(self.command)
        if hold and os.path.exists(hold):
            self.record(0, "Held")
            while os.path.exists(hold):
                time.sleep(0.05)
        query = u.query
        if self.opts.page_size and "list-type=2" in query:
            parts = [p for p in query.split("&") if not p.startswith("max-keys=")]
            parts.append("max-keys=%d" % self.opts.page_size)
            query = "&".join(parts)
        conn = http.client.HTTPConnection("127.0.0.1", self.opts.upstream, timeout=60)
        fwd = {n: v for (n, v) in headers if n.lower() not in HOP and n.lower() != "host"}
        fwd["Host"] = "127.0.0.1:%d" % self.opts.upstream
        conn.request(self.command, u.path + ("?" + query if query else ""), body=body,
                     headers=fwd)
        resp = conn.getresponse()
        self.send_response(resp.status)
        rlen = None
        for (n, v) in resp.getheaders():
            if n.lower() in HOP:
                continue
            if n.lower() == "content-length":
                rlen = v
            self.send_header(n, v)
        if rlen is None:
            data = resp.read()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        else:
            self.end_headers()
            while self.command != "HEAD":
                chunk = resp.read(256 * 1024)
                if not chunk:
                    break
                self.wfile.write(chunk)
        conn.close()
        self.record(resp.status)

    do_GET = do_PUT = do_DELETE = do_HEAD = do_POST = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "selftest":
        sys.exit(selftest())
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["serve"])
    ap.add_argument("--upstream", type=int, required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--page-size", type=int, default=0)
    ap.add_argument("--hold-delete")
    ap.add_argument("--hold-head")
    ap.add_argument("--log")
    opts = ap.parse_args()
    Proxy.opts = opts
    srv = Server(("127.0.0.1", 0), Proxy)
    with open(opts.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(opts.port_file + ".tmp", opts.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
