#!/usr/bin/env python3
"""Crash test: kill -9 the server at random moments while clients post
messages and assistant replies stream, restart it, and check that nothing
acknowledged was lost.

Each round starts `xl serve` on one SQLite file, runs writers that post
messages (every post answered 2xx is remembered) into threads whose
assistant replies stream (the echo model, paced), kills the server with
SIGKILL after a random moment, and restarts it. At the end:

- every message whose post got a 2xx is there (GET /api/v1/messages/{id});
- no message is left `streaming` (restart recovery fails them);
- `PRAGMA integrity_check` says ok.

Usage: scripts/proof/crash.py [--rounds 20] [--xl target/debug/xl]
Needs only Python's standard library.
"""

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

SECRET = "crash-test-secret-0123456789abcdef0123"


def request(base, method, path, token, body=None, timeout=10):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, json.loads(resp.read() or b"null")


def start(xl, workdir, port, log, **settings):
    """Starts `xl serve` on `port` with the proofs' settings (echo model at
    15 ms a word, rate limits off) and any `settings` over them; waits until
    it answers."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("XL_", "DATABASE", "JWT", "OPENAI", "DEFAULT_AI"))}
    env.update(
        XL_BIND=f"127.0.0.1:{port}",
        XL_DATA_DIR=os.path.join(workdir, "data"),
        JWT_SECRET=SECRET,
        ECHO_PACE_MS="15",
        XL_RATE_LIMITS="off",
        XL_LOG="warn",
    )
    env.update(settings)
    proc = subprocess.Popen([xl, "serve"], cwd=workdir, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(base + "/health", timeout=1)
            return proc, base
        except Exception:
            time.sleep(0.05)
    raise SystemExit("the server did not start")


def token(xl, workdir, email):
    env = dict(os.environ, JWT_SECRET=SECRET, XL_DATA_DIR=os.path.join(workdir, "data"))
    out = subprocess.run(
        [xl, "token", "--email", email, "--ttl", "2h"],
        cwd=workdir, env=env, capture_output=True, text=True, check=True,
    )
    return out.stdout.strip()


def writer(base, tok, thread, acked, stop, errors):
    n = 0
    while not stop.is_set():
        n += 1
        try:
            status, body = request(
                base, "POST", f"/api/v1/threads/{thread}/messages?reply=stream", tok,
                {"content": f"message {n} " + "word " * random.randint(1, 12)},
            )
            if 200 <= status < 300:
                acked.append(body["data"]["userMessage"]["id"])
        except urllib.error.HTTPError as err:
            errors[1].append(err.code)  # refused: a bug, unless the server is stopping
            time.sleep(0.02)
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            errors[0] += 1  # the server died mid-request: not acknowledged
            time.sleep(0.02)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--xl", default="target/debug/xl")
    args = parser.parse_args()
    xl = os.path.abspath(args.xl)
    workdir = tempfile.mkdtemp(prefix="xl-crash-")
    port = 18000 + random.randint(0, 999)
    log = open(os.path.join(workdir, "server.log"), "ab")
    proc, base = start(xl, workdir, port, log)
    tok = token(xl, workdir, "crash@example.com")
    threads = [
        request(base, "POST", "/api/v1/threads", tok, {"title": f"t{i}"})[1]["data"]["id"]
        for i in range(args.writers)
    ]
    acked, failures = [], [0, []]
    for round_no in range(1, args.rounds + 1):
        stop = threading.Event()
        workers = [
            threading.Thread(target=writer, args=(base, tok, t, acked, stop, failures))
            for t in threads
        ]
        for w in workers:
            w.start()
        time.sleep(random.uniform(1.5, 4.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stop.set()
        for w in workers:
            w.join()
        proc, base = start(xl, workdir, port, log)
        print(f"round {round_no}: killed; {len(acked)} posts acknowledged so far", flush=True)

    missing = []
    for mid in acked:
        try:
            request(base, "GET", f"/api/v1/messages/{mid}", tok)
        except urllib.error.HTTPError as err:
            missing.append((mid, err.code))
    # Let replies started after the last restart end, then stop cleanly.
    time.sleep(2)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    db = sqlite3.connect(os.path.join(workdir, "data", "xl.db"))
    integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
    streaming = db.execute("SELECT count(*) FROM messages WHERE status = 'streaming'").fetchone()[0]
    failed = db.execute(
        "SELECT count(*) FROM messages WHERE status = 'failed' AND error LIKE '%restart%'"
    ).fetchone()[0]
    total = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    print(json.dumps({
        "rounds": args.rounds,
        "acknowledged_posts": len(acked),
        "missing_after_restarts": len(missing),
        "requests_cut_by_a_kill": failures[0],
        "posts_refused_by_status": {str(c): failures[1].count(c) for c in sorted(set(failures[1]))},
        "messages_in_database": total,
        "left_streaming": streaming,
        "replies_failed_by_restart_recovery": failed,
        "integrity_check": integrity,
    }, indent=2))
    ok = not missing and streaming == 0 and integrity == "ok"
    print("PASS" if ok else f"FAIL: missing {missing[:5]}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
