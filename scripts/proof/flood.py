#!/usr/bin/env python3
"""Flood: one user sends ten times their rate limit while another works;
the other's latency must stay within 2x of its baseline (p99), and the
flooder must be refused with 429 and Retry-After.

Starts `xl serve` (SQLite, echo model) with RATE_LIMIT_READS set low, then
measures user B's GET latency alone, and again while user A floods with
N concurrent connections at ten times A's limit.

Usage: scripts/proof/flood.py [--xl target/debug/xl] [--seconds 10]
"""

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

SECRET = "flood-test-secret-0123456789abcdef01234"
LIMIT = 600  # reads per minute per user: 10 a second


def start(xl, workdir, port):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XL_", "DATABASE", "JWT", "RATE"))}
    env.update(
        XL_BIND=f"127.0.0.1:{port}", JWT_SECRET=SECRET, XL_LOG="error",
        RATE_LIMIT_READS=str(LIMIT), ORG_RATE_LIMIT_READS="1000000",
    )
    proc = subprocess.Popen([xl, "serve"], cwd=workdir, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            return proc
        except Exception:
            time.sleep(0.05)
    raise SystemExit("the server did not start")


def token(xl, workdir, email):
    out = subprocess.run([xl, "token", "--email", email, "--ttl", "1h"], cwd=workdir,
                         env=dict(os.environ, JWT_SECRET=SECRET), capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def get(conn, path, tok):
    conn.request("GET", path, headers={"Authorization": f"Bearer {tok}"})
    resp = conn.getresponse()
    resp.read()
    return resp.status, resp.getheader("Retry-After")


def measure(port, tok, seconds, rate):
    """B's latencies: `rate` GETs a second (well under its limit)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies, statuses = [], []
    end = time.time() + seconds
    while time.time() < end:
        started = time.perf_counter()
        status, _ = get(conn, "/api/v1/threads", tok)
        latencies.append((time.perf_counter() - started) * 1000)
        statuses.append(status)
        time.sleep(max(0.0, 1 / rate - (time.perf_counter() - started)))
    return latencies, statuses


def flood(port, tok, stop, counts):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    per_second = LIMIT / 60 * 10  # ten times the limit, across the flooders
    while not stop.is_set():
        started = time.perf_counter()
        status, retry = get(conn, "/api/v1/threads", tok)
        counts[status] = counts.get(status, 0) + 1
        if status == 429 and retry:
            counts["retry_after"] = retry
        time.sleep(max(0.0, 4 / per_second - (time.perf_counter() - started)))


def p(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--xl", default="target/debug/xl")
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    xl = os.path.abspath(args.xl)
    workdir = tempfile.mkdtemp(prefix="xl-flood-")
    port = 19100 + os.getpid() % 800
    proc = start(xl, workdir, port)
    try:
        a, b = token(xl, workdir, "a@example.com"), token(xl, workdir, "b@example.com")
        measure(port, b, 1, 5)  # warm up
        base, _ = measure(port, b, args.seconds, 5)
        stop, counts = threading.Event(), {}
        flooders = [threading.Thread(target=flood, args=(port, a, stop, counts)) for _ in range(4)]
        for f in flooders:
            f.start()
        time.sleep(1)
        during, statuses = measure(port, b, args.seconds, 5)
        stop.set()
        for f in flooders:
            f.join()
    finally:
        proc.terminate()
        proc.wait()
    result = {
        "limit_per_minute": LIMIT,
        "flooder": {"sent": sum(v for k, v in counts.items() if isinstance(k, int)),
                    "answered_200": counts.get(200, 0), "refused_429": counts.get(429, 0),
                    "retry_after_seen": counts.get("retry_after")},
        "other_user": {
            "baseline_p50_ms": round(p(base, 0.5), 2), "baseline_p99_ms": round(p(base, 0.99), 2),
            "flooded_p50_ms": round(p(during, 0.5), 2), "flooded_p99_ms": round(p(during, 0.99), 2),
            "p99_ratio": round(p(during, 0.99) / p(base, 0.99), 2),
            "refused": sum(1 for s in statuses if s != 200),
        },
    }
    print(json.dumps(result, indent=2))
    ok = (result["other_user"]["p99_ratio"] <= 2.0 and result["other_user"]["refused"] == 0
          and counts.get(429, 0) > 0)
    print("PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
