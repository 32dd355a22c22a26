#!/usr/bin/env python3
"""Random and malformed requests against a medsearch-server on loopback (issue 8, part 5).

Sends COUNT requests, each on its own connection, made from a seeded random generator: random
bytes, random query strings, huge parameters, too many or too large headers, bad JSON, deep
nesting, oversized bodies, bad methods, versions and chunked encodings, path traversal,
slowloris-style requests that trickle bytes, and bodies that never arrive whole. Counts the
answers by status (0 = closed without an answer, allowed for bytes that are no HTTP request)
and prints one JSON object. Exit 1 when any answer is a 5xx other than 503, or when the
server does not answer /health afterwards.

Usage: abuse.py --port PORT [--count 10000] [--seed 1] [--parallel 8] [--host 127.0.0.1]
Python 3 standard library only. Talks only to the given loopback address.
"""
import argparse
import collections
import concurrent.futures
import json
import random
import select
import socket
import sys
import threading
import time
import urllib.parse

TIMEOUT_S = 60  # per connection: the server's own limits answer well before this


def read_answer(sock):
    """The status of the answer on `sock` (0 if the server closed without one)."""
    data = b""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            break
        if not chunk:
            break
        data += chunk
        end = data.find(b"\r\n\r\n")
        if end >= 0:
            head = data[:end].decode("latin-1")
            length = None
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
            if length is not None and len(data) >= end + 4 + length:
                break
    if not data.startswith(b"HTTP/1."):
        return 0
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def exchange(host, port, payload, trickle=None, close_write=True):
    """Sends payload (and then `trickle` one byte at a time, 0.2 s apart, until answered),
    returns the answer's status."""
    with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
        sock.settimeout(1)
        try:
            sock.sendall(payload)
            if trickle:
                for i in range(len(trickle)):
                    if select.select([sock], [], [], 0.2)[0]:
                        break  # answered (or closed)
                    sock.sendall(trickle[i:i + 1])
            elif close_write:
                sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close early (a limit); its answer may still be there
        return read_answer(sock)


def http(method, target, headers=None, body=b""):
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace") + body


def enc(raw):
    return urllib.parse.quote_from_bytes(raw, safe="")


def json_body(rng):
    good = {"q": rng.choice(["riluzole", "heart failure", "metformin kidney"]), "limit": 5, "facets": False}
    kind = rng.randrange(8)
    if kind == 0:
        text = json.dumps(good)
        return text[: rng.randrange(1, len(text))].encode()  # truncated
    if kind == 1:
        good[rng.choice(list(good))] = rng.choice([None, [], {}, "x", -1, 1e308, True, "\ud800"])
        return json.dumps(good).encode("utf-8", "surrogatepass")
    if kind == 2:
        return rng.randbytes(rng.randrange(1, 2000))
    if kind == 3:
        good["unknown_" + str(rng.randrange(100))] = 1
        return json.dumps(good).encode()
    if kind == 4:
        return b'{"q": "\xff\xfe invalid utf-8"}'
    if kind == 5:
        return json.dumps({"q": "x" * rng.choice([1025, 5000, 100000])}).encode()
    if kind == 6:
        return json.dumps({"q": " ".join(["word"] * rng.choice([65, 200]))}).encode()
    return json.dumps([good] * rng.randrange(1, 50)).encode()


def deep(rng):
    n = rng.choice([100, 1000, 10000, 100000, 500000])
    shape = rng.randrange(3)
    if shape == 0:
        return b"[" * n + b"]" * n
    if shape == 1:
        return b'{"q":' + b"[" * n + b"]" * n + b"}"
    return b'{"a":' * n + b"1" + b"}" * n


def case(rng):
    """One request: (kind, payload, trickle, close_write)."""
    kinds = [
        ("random_bytes", 6), ("random_line", 6), ("random_query", 14), ("huge_param", 6), ("many_params", 3),
        ("huge_header", 4), ("many_headers", 3), ("bad_json", 14), ("deep_nesting", 5), ("big_body", 2),
        ("bad_method", 4), ("bad_version", 4), ("bad_chunked", 4), ("traversal", 5), ("records_no_key", 3),
        ("suggest", 4), ("passage", 4), ("context", 5), ("good", 4),
    ]
    kind = rng.choices([k for k, _ in kinds], weights=[w for _, w in kinds])[0]
    if kind == "random_bytes":
        return kind, rng.randbytes(rng.randrange(1, 3000)), None, True
    if kind == "random_line":
        junk = bytes(rng.randrange(32, 127) for _ in range(rng.randrange(1, 200)))
        return kind, b"GET /" + junk + b" HTTP/1.1\r\nHost: x\r\n\r\n", None, True
    if kind == "random_query":
        params = [f"q={enc(rng.randbytes(rng.randrange(0, 300)))}"]
        for name in ("limit", "offset", "year_from", "source", "facets", "per_record", "snippet_bytes", "drug"):
            if rng.random() < 0.3:
                params.append(f"{name}={enc(rng.choice([b'-1', b'0', b'99999999999999', b'1e3', b'', rng.randbytes(5)]))}")
        return kind, http(rng.choice(["GET", "HEAD"]), "/search?" + "&".join(params)), None, True
    if kind == "huge_param":
        size = rng.choice([2000, 9000, 100000, 1000000])
        return kind, http("GET", "/search?q=" + "a" * size), None, True
    if kind == "many_params":
        return kind, http("GET", "/search?q=x" + "&a=1" * rng.choice([100, 3000])), None, True
    if kind == "huge_header":
        return kind, http("GET", "/health", {"X-Big": "b" * rng.choice([9000, 20000, 1000000])}), None, True
    if kind == "many_headers":
        headers = {f"X-H{i}": "v" for i in range(rng.choice([65, 500, 5000]))}
        return kind, http("GET", "/health", headers), None, True
    if kind == "bad_json":
        route = rng.choice(["/search", "/context"])
        return kind, http("POST", route, {"Content-Type": "application/json"}, json_body(rng)), None, True
    if kind == "deep_nesting":
        route = rng.choice(["/search", "/context", "/records"])
        return kind, http("POST", route, {"Content-Type": "application/json"}, deep(rng)), None, True
    if kind == "big_body":
        body = b'{"q":"' + b"a" * (2 << 20) + b'"}'
        return kind, http("POST", "/search", {"Content-Type": "application/json"}, body), None, True
    if kind == "bad_method":
        method = rng.choice(["BREW", "get", "PUT", "PATCH", "TRACE", "CONNECT", "G\x00T", "DELETE", "X" * 500])
        return kind, http(method, rng.choice(["/search?q=x", "/health", "/records/x", "*"])), None, True
    if kind == "bad_version":
        line = rng.choice([b"GET / HTTP/9.9\r\n\r\n", b"GET /health\r\n\r\n", b"GET /health HTTP/1.1\n\n",
                           b"\r\n\r\n", b"GET  /health  HTTP/1.1\r\n\r\n", b"GET /health HTTP/1.0\r\n\r\n"])
        return kind, line, None, True
    if kind == "bad_chunked":
        chunks = rng.choice([b"zz\r\nabc\r\n0\r\n\r\n", b"ffffffffffffffff\r\n", b"3\r\nabc\r\n", b"-1\r\n\r\n",
                             b"1;" + b"x" * 9000 + b"\r\na\r\n0\r\n\r\n"])
        head = b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        return kind, head + chunks, None, True
    if kind == "traversal":
        target = rng.choice(["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd",
                             "/%252e%252e/etc/passwd", "//etc/passwd", "/.git/config", "/index.html%00.js",
                             "/app.js/../../../../etc/passwd", "/%c0%ae%c0%ae/etc/passwd"])
        return kind, http("GET", target), None, True
    if kind == "records_no_key":
        return kind, http("POST", "/records", {"Authorization": "Bearer " + "k" * rng.randrange(0, 100)},
                          b'{"id":"x"}\n'), None, True
    if kind == "suggest":
        return kind, http("GET", f"/suggest?prefix={enc(rng.randbytes(rng.randrange(0, 200)))}"
                                 f"&limit={rng.choice(['1', '0', '-5', '999', 'x'])}"), None, True
    if kind == "passage":
        return kind, http("GET", f"/passages/{enc(rng.randbytes(rng.randrange(1, 300)))}"), None, True
    if kind == "context":
        body = {"question": rng.choice(["riluzole", "", "x" * 2000]),
                "history": [{"question": "q", "answer": rng.choice(["a", None, 1])}] * rng.choice([0, 1, 21]),
                "budget_tokens": rng.choice([10, 1000, 10 ** 9])}
        return kind, http("POST", "/context", {"Content-Type": "application/json"}, json.dumps(body).encode()), None, True
    return kind, http("GET", "/search?q=" + enc(rng.choice([b"riluzole", b"heart failure", b"gout flare"]))), None, True


def slow_cases(rng, n):
    """Slowloris requests: a head trickled a byte at a time, and bodies that stop short."""
    out = []
    for i in range(n):
        if i % 2 == 0:
            out.append(("slowloris", b"GET /health HTTP/1.1\r\n", b"X-Slow: " + b"a" * 2000, False))
        else:
            head = b"POST /search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            out.append(("short_body", head + b'{"q":"ril', None, False))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--slow", type=int, default=16, help="of COUNT, slow requests (run 4 at a time)")
    args = parser.parse_args()
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        sys.exit("abuse.py: loopback only")

    rng = random.Random(args.seed)
    slow = slow_cases(rng, min(args.slow, args.count))
    fast = [case(rng) for _ in range(args.count - len(slow))]
    by_status = collections.Counter()
    by_kind = collections.defaultdict(collections.Counter)
    failures = []
    lock = threading.Lock()

    def run(item):
        kind, payload, trickle, close_write = item
        try:
            status = exchange(args.host, args.port, payload, trickle, close_write)
        except OSError as e:
            status = 0
            with lock:
                by_kind[kind]["connect_error:" + type(e).__name__] += 1
        with lock:
            by_status[status] += 1
            by_kind[kind][status] += 1
            if status >= 500 and status != 503:
                failures.append({"kind": kind, "status": status, "payload": payload[:200].decode("latin-1")})

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as slow_pool, \
            concurrent.futures.ThreadPoolExecutor(args.parallel) as pool:
        slow_done = [slow_pool.submit(run, item) for item in slow]
        list(pool.map(run, fast))
        for f in slow_done:
            f.result()
    seconds = time.monotonic() - start

    alive = False
    try:
        with socket.create_connection((args.host, args.port), timeout=30) as sock:
            sock.settimeout(30)
            sock.sendall(http("GET", "/search?q=riluzole&limit=3") + b"")
            sock.shutdown(socket.SHUT_WR)
            alive = read_answer(sock) == 200
    except OSError:
        alive = False

    print(json.dumps({
        "requests": sum(by_status.values()),
        "seconds": round(seconds, 1),
        "by_status": {str(k): v for k, v in sorted(by_status.items())},
        "by_kind": {k: {str(s): n for s, n in sorted(v.items(), key=lambda kv: str(kv[0]))} for k, v in sorted(by_kind.items())},
        "server_errors": len(failures),
        "first_failures": failures[:5],
        "alive_after": alive,
    }))
    return 0 if not failures and alive else 1


if __name__ == "__main__":
    sys.exit(main())
