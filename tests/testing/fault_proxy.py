#!/usr/bin/python3
"""A fault-injecting HTTP server for the store tests (python3 stdlib only).

Two modes:
  --upstream http://127.0.0.1:PORT   forward every request to an S3 server (s3rver), or
  --root DIR                         serve the files of DIR read-only (GET with Range, HEAD),
                                     like a static mirror in front of a pushed store directory.
  --tls-cert PEM --tls-key PEM       serve HTTPS instead of HTTP.

Faults are armed over HTTP by the test, on paths the proxy keeps for itself:
  GET /__proxy__/arm?fault=F&count=N[&method=M][&match=SUBSTR][&seconds=S]
      applies fault F to the next N requests (of method M, whose path contains SUBSTR):
        status503 | status500 | slowdown (503 SlowDown) | status429 | status403 | status404
        reset     (half the body, then a TCP reset)
        truncate  (full Content-Length, half the body, then a clean close)
        stall     (nothing at all for S seconds, then close)
        flip      (forward the response with its body bytes inverted)
        drop      (forward the request, then close without answering: a lost answer)
  GET /__proxy__/disarm           clears every fault
  GET /__proxy__/verify?secret=S  checks the AWS SigV4 signature (and the payload hash) of every
                                  signed request with secret key S, answering 403
                                  SignatureDoesNotMatch on a mismatch; secret= (empty) turns it off
  GET /__proxy__/count[?method=M] number of requests served (faulted or not) since the last reset;
                                  method=connections: TCP connections accepted
  GET /__proxy__/reset            zeroes the counters
  GET /__proxy__/conditional?on=1 makes PUT with "If-None-Match: *" answer 412 when the object
                                  exists (atomically), like AWS S3 and MinIO; s3rver ignores it
Prints "ready PORT" on stdout once listening.
"""

import argparse
import hashlib
import hmac
import http.client
import re
import os
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
FAULTS = []  # dicts: fault, count, method, match, seconds
COUNTS = {}  # method -> count; "connections" counts TCP connections accepted
ARGS = None
CONDITIONAL = [False]  # emulate a server that honours If-None-Match: * on PUT (atomically)
CONDITIONAL_LOCK = threading.Lock()
VERIFY_SECRET = [""]  # the secret key SigV4 signatures are checked with; "" = no check
VERIFIED = [0]


def sigv4_mismatch(handler, method, body):
    """None if the request's SigV4 signature is right (an independent implementation)."""
    auth = handler.headers.get("Authorization", "")
    m = re.match(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, "
                 r"SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$", auth)
    if not m:
        return "no SigV4 Authorization header"
    _, date, region, service, signed, signature = m.groups()
    path, _, query = handler.path.partition("?")
    pairs = []
    for part in query.split("&") if query else []:
        k, _, v = part.partition("=")
        q = lambda x: urllib.parse.quote(urllib.parse.unquote(x), safe="-_.~")
        pairs.append((q(k), q(v)))
    canonical_query = "&".join("%s=%s" % kv for kv in sorted(pairs))
    lines = []
    for name in signed.split(";"):
        values = handler.headers.get_all(name) or []
        lines.append("%s:%s\n" % (name, ",".join(" ".join(v.split()) for v in values)))
    payload = handler.headers.get("x-amz-content-sha256", "")
    if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
        return "x-amz-content-sha256 does not match the body"
    creq = "\n".join([method, path, canonical_query, "".join(lines), signed, payload])
    amz_date = handler.headers.get("x-amz-date", "")
    scope = "%s/%s/%s/aws4_request" % (date, region, service)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    key = ("AWS4" + VERIFY_SECRET[0]).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    want = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(want, signature) else "signature mismatch"


def take_fault(method, path):
    with LOCK:
        for f in FAULTS:
            if f["count"] <= 0:
                continue
            if f["method"] and f["method"] != method:
                continue
            if f["match"] and f["match"] not in path:
                continue
            f["count"] -= 1
            return dict(f)
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with LOCK:
            COUNTS["connections"] = COUNTS.get("connections", 0) + 1

    def log_message(self, *args):
        pass

    def control(self):
        url = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        op = url.path[len("/__proxy__/"):]
        body = b"ok"
        with LOCK:
            if op == "arm":
                FAULTS.append({"fault": q["fault"], "count": int(q.get("count", "1")),
                               "method": q.get("method", ""), "match": q.get("match", ""),
                               "seconds": float(q.get("seconds", "5"))})
            elif op == "verify":
                VERIFY_SECRET[0] = q.get("secret", "")
            elif op == "conditional":
                CONDITIONAL[0] = q.get("on", "1") == "1"
            elif op == "verified":
                body = str(VERIFIED[0]).encode()
            elif op == "disarm":
                FAULTS.clear()
            elif op == "count":
                m = q.get("method")
                n = COUNTS.get(m, 0) if m else sum(
                    v for k, v in COUNTS.items() if k != "connections")
                body = str(n).encode()
            elif op == "reset":
                COUNTS.clear()
            else:
                body = b"unknown"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def fail(self, code, s3code, message, method):
        err = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
               "<Message>%s</Message></Error>" % (s3code, message)).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(err) if method != "HEAD" else 0))
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(err)

    def read_body(self):
        n = int(self.headers.get("Content-Length", "0") or "0")
        return self.rfile.read(n) if n > 0 else b""

    def upstream(self, method, body):
        u = urllib.parse.urlparse(ARGS.upstream)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        headers = {k: v for k, v in self.headers.items()
                   if body or k.lower() not in ("content-length", "if-none-match")}
        conn.request(method, self.path, body=body if body else None, headers=headers)
        resp = conn.getresponse()
        data = resp.read() if method != "HEAD" else b""
        out = (resp.status, [(k, v) for k, v in resp.getheaders()
                             if k.lower() not in ("transfer-encoding", "connection")], data)
        conn.close()
        return out

    def local(self, method):
        path = urllib.parse.unquote(urllib.parse.urlparse(self.path).path)
        full = os.path.realpath(os.path.join(ARGS.root, path.lstrip("/")))
        root = os.path.realpath(ARGS.root)
        if method not in ("GET", "HEAD"):
            return 405, [], b"read-only"
        if not full.startswith(root + os.sep) or not os.path.isfile(full):
            return 404, [], b"not found"
        with open(full, "rb") as f:
            data = f.read()
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            a = int(a)
            b = min(int(b), len(data) - 1) if b else len(data) - 1
            if a >= len(data):
                return 416, [("Content-Range", "bytes */%d" % len(data))], b""
            return 206, [("Content-Range", "bytes %d-%d/%d" % (a, b, len(data))),
                         ("Accept-Ranges", "bytes")], data[a:b + 1]
        return 200, [("Accept-Ranges", "bytes")], data

    def handle_any(self, method):
        if self.path.startswith("/__proxy__/"):
            return self.control()
        body = self.read_body()
        with LOCK:
            COUNTS[method] = COUNTS.get(method, 0) + 1
        if VERIFY_SECRET[0]:
            why = sigv4_mismatch(self, method, body)
            if why:
                return self.fail(403, "SignatureDoesNotMatch", why, method)
            with LOCK:
                VERIFIED[0] += 1
        fault = take_fault(method, self.path)
        kind = fault["fault"] if fault else ""
        if kind == "stall":
            time.sleep(fault["seconds"])
            self.close_connection = True
            return
        statuses = {"status500": (500, "InternalError"), "status503": (503, "ServiceUnavailable"),
                    "slowdown": (503, "SlowDown"), "status429": (429, "TooManyRequests"),
                    "status403": (403, "AccessDenied"), "status404": (404, "NoSuchKey")}
        if kind in statuses:
            code, s3code = statuses[kind]
            return self.fail(code, s3code, "injected by fault_proxy", method)
        if (ARGS.upstream and CONDITIONAL[0] and method == "PUT" and
                self.headers.get("If-None-Match", "").strip() == "*"):
            with CONDITIONAL_LOCK:  # HEAD then PUT, atomic for every client of this proxy
                if self.upstream("HEAD", b"")[0] == 200:
                    return self.fail(412, "PreconditionFailed",
                                     "At least one of the pre-conditions you specified did not hold",
                                     method)
                status, headers, data = self.upstream(method, body)
        elif ARGS.upstream:
            status, headers, data = self.upstream(method, body)
        else:
            status, headers, data = self.local(method)
        if kind == "drop":  # the server did the work; its answer is lost
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if kind == "flip" and data:
            data = bytes(b ^ 0xFF for b in data)
        self.send_response(status)
        length = None
        for k, v in headers:
            if k.lower() == "content-length":
                length = v
                continue
            if k.lower() in ("date", "server"):
                continue
            self.send_header(k, v)
        if method == "HEAD" and length is not None:
            self.send_header("Content-Length", length)
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if method == "HEAD":
            return
        if kind in ("reset", "truncate") and len(data) > 1:
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            if kind == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        self.wfile.write(data)

    def do_GET(self):
        self.handle_any("GET")

    def do_HEAD(self):
        self.handle_any("HEAD")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_POST(self):
        self.handle_any("POST")

    def do_DELETE(self):
        self.handle_any("DELETE")


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", default="")
    p.add_argument("--root", default="")
    p.add_argument("--tls-cert", default="", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", default="")
    ARGS = p.parse_args()
    if bool(ARGS.upstream) == bool(ARGS.root):
        sys.exit("fault_proxy: give exactly one of --upstream or --root")
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    server.daemon_threads = True
    if ARGS.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("ready %d" % ARGS.port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
