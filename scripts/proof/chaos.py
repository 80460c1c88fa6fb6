#!/usr/bin/env python3
"""Upstream chaos: the model provider times out, errors and drops streams
mid-way while clients post messages (whose assistant replies stream) and
stream Responses; afterwards nothing is lost and nothing is left streaming.

The script runs a model provider of its own speaking OpenAI's wire format
(`/v1/models`, streamed `/v1/chat/completions`) that answers each call at
random in one of these ways:

- ok:      20 text chunks 10 ms apart, the finish, the usage, `[DONE]`;
- error:   a 500 with an OpenAI error body;
- limited: a 429 with an OpenAI error body;
- drop:    a few chunks, then the connection is cut;
- hang:    a chunk, then silence longer than xl's `OPENAI_TIMEOUT` (2 s);

and starts `xl serve` on it (SQLite, no retries so every fault reaches the
reply). Writers post messages with `?reply=stream`; readers stream
`POST /api/v1/responses`. At the end, once the calls still running have had
time to time out:

- every post answered 2xx is there (`GET /api/v1/messages/{id}`);
- no message is `streaming`, and every reply ended `complete`, `failed` or
  `cancelled`, a failed one with its reason;
- every Responses stream ended with a terminal event
  (`response.completed`, `response.failed`, `response.incomplete` or `error`);
- no call is left unrecorded: `completions` holds one row per call that
  reached the provider, none still open;
- the server logged no panic.

Usage: scripts/proof/chaos.py [--seconds 30] [--xl target/debug/xl]
Needs only Python's standard library.
"""

import argparse
import http.server
import json
import os
import random
import socketserver
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crash import request, start, token  # noqa: E402

MODEL = "gpt-4o-mini"
FAULTS = ["ok", "ok", "ok", "error", "limited", "drop", "hang"]


class Provider(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    calls = {}
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/").endswith("/models"):
            self.answer(200, {"object": "list", "data": [
                {"id": MODEL, "object": "model", "created": 0, "owned_by": "chaos"}]})
        else:
            self.answer(404, {"error": {"message": "no such route", "type": "invalid_request_error"}})

    def chunk(self, payload):
        data = f"data: {json.dumps(payload)}\n\n".encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        fault = random.choice(FAULTS)
        with Provider.lock:
            Provider.calls[fault] = Provider.calls.get(fault, 0) + 1
        if fault == "error":
            return self.answer(500, {"error": {"message": "the model is down", "type": "server_error"}})
        if fault == "limited":
            return self.answer(429, {"error": {"message": "slow down", "type": "rate_limit_error",
                                               "code": "rate_limit_exceeded"}})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        base = {"id": "chatcmpl-chaos", "object": "chat.completion.chunk", "created": 0, "model": MODEL}
        pieces = 20 if fault == "ok" else (1 if fault == "hang" else random.randint(1, 10))
        try:
            self.chunk(dict(base, choices=[{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]))
            for n in range(pieces):
                self.chunk(dict(base, choices=[{"index": 0, "delta": {"content": f"w{n} "}, "finish_reason": None}]))
                time.sleep(0.01)
            if fault == "drop":
                self.connection.shutdown(2)
                self.close_connection = True
                return
            if fault == "hang":
                time.sleep(4)
                self.close_connection = True
                return
            self.chunk(dict(base, choices=[{"index": 0, "delta": {}, "finish_reason": "stop"}]))
            self.chunk(dict(base, choices=[], usage={"prompt_tokens": 5, "completion_tokens": pieces,
                                                     "total_tokens": 5 + pieces}))
            data = b"data: [DONE]\n\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def writer(base, tok, thread, acked, stop, refused):
    n = 0
    while not stop.is_set():
        n += 1
        try:
            status, body = request(base, "POST", f"/api/v1/threads/{thread}/messages?reply=stream",
                                   tok, {"content": f"question {n}"})
            if 200 <= status < 300:
                acked.append(body["data"]["userMessage"]["id"])
        except urllib.error.HTTPError as err:
            refused.append(err.code)
        time.sleep(0.05)


def reader(base, tok, stop, endings):
    while not stop.is_set():
        req = urllib.request.Request(
            base + "/api/v1/responses", method="POST",
            data=json.dumps({"input": "stream me", "stream": True}).encode())
        req.add_header("Authorization", f"Bearer {tok}")
        req.add_header("Content-Type", "application/json")
        last = None
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                for line in resp:
                    if line.startswith(b"event: "):
                        last = line[7:].strip().decode()
        except urllib.error.HTTPError as err:
            last = f"http {err.code}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as err:
            last = f"cut: {err}"
        endings.append(last)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--writers", type=int, default=6)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--xl", default="target/debug/xl")
    args = parser.parse_args()
    xl = os.path.abspath(args.xl)
    workdir = tempfile.mkdtemp(prefix="xl-chaos-")
    provider = ThreadingServer(("127.0.0.1", 0), Provider)
    threading.Thread(target=provider.serve_forever, daemon=True).start()
    provider_url = f"http://127.0.0.1:{provider.server_address[1]}/v1"
    port = 19000 + random.randint(0, 999)
    log_path = os.path.join(workdir, "server.log")
    log = open(log_path, "ab")
    proc, base = start(xl, workdir, port, log, OPENAI_BASE_URL=provider_url, OPENAI_API_KEY="sk-chaos",
                        OPENAI_TIMEOUT="2s", OPENAI_MAX_RETRIES="0", DEFAULT_AI_MODEL=MODEL)
    tok = token(xl, workdir, "chaos@example.com")
    threads = [request(base, "POST", "/api/v1/threads", tok, {"title": f"t{i}"})[1]["data"]["id"]
               for i in range(args.writers)]
    acked, refused, endings = [], [], []
    stop = threading.Event()
    workers = [threading.Thread(target=writer, args=(base, tok, t, acked, stop, refused))
               for t in threads]
    workers += [threading.Thread(target=reader, args=(base, tok, stop, endings))
                for _ in range(args.readers)]
    for w in workers:
        w.start()
    time.sleep(args.seconds)
    stop.set()
    for w in workers:
        w.join()
    # Calls still running end by themselves: a hung one at xl's 2 s timeout.
    db = sqlite3.connect(f"file:{os.path.join(workdir, 'data', 'xl.db')}?mode=ro", uri=True)
    deadline = time.time() + 15
    while time.time() < deadline:
        streaming = db.execute("SELECT count(*) FROM messages WHERE status = 'streaming'").fetchone()[0]
        if streaming == 0:
            break
        time.sleep(0.25)
    missing = []
    for mid in acked:
        try:
            request(base, "GET", f"/api/v1/messages/{mid}", tok)
        except urllib.error.HTTPError as err:
            missing.append((mid, err.code))
    replies = dict(db.execute(
        "SELECT status, count(*) FROM messages WHERE role = 'ASSISTANT' GROUP BY status").fetchall())
    failed_without_reason = db.execute(
        "SELECT count(*) FROM messages WHERE status = 'failed' AND (error IS NULL OR error = '')"
    ).fetchone()[0]
    calls = dict(db.execute("SELECT status, count(*) FROM completions GROUP BY status").fetchall())
    db.close()
    proc.terminate()
    proc.wait(timeout=60)
    log.close()
    panics = open(log_path, errors="replace").read().count("panicked")
    terminal = {"response.completed", "response.failed", "response.incomplete", "error"}
    bad_endings = [e for e in endings if e not in terminal]
    made = sum(Provider.calls.values())
    recorded = sum(calls.values())
    report = {
        "seconds": args.seconds,
        "provider_calls_by_fault": Provider.calls,
        "acknowledged_posts": len(acked),
        "posts_refused_by_status": {str(c): refused.count(c) for c in sorted(set(refused))},
        "missing_posts": len(missing),
        "replies_by_status": replies,
        "failed_replies_without_a_reason": failed_without_reason,
        "responses_streams": len(endings),
        "responses_stream_endings": {e: endings.count(e) for e in sorted(set(map(str, endings)))},
        "calls_recorded_by_status": calls,
        "panics_in_log": panics,
    }
    print(json.dumps(report, indent=2))
    problems = []
    if missing:
        problems.append(f"{len(missing)} acknowledged posts missing, e.g. {missing[:3]}")
    if replies.get("streaming", 0):
        problems.append(f"{replies['streaming']} replies left streaming")
    if failed_without_reason:
        problems.append(f"{failed_without_reason} failed replies without a reason")
    if bad_endings:
        problems.append(f"{len(bad_endings)} Responses streams without a terminal event: {bad_endings[:3]}")
    if refused:
        problems.append(f"{len(refused)} posts refused")
    if recorded < made or calls.get("streaming", 0) or calls.get("pending", 0):
        problems.append(f"{made} calls made, {recorded} recorded: {calls}")
    if panics:
        problems.append(f"{panics} panics in the server log ({log_path})")
    if not all(Provider.calls.get(f, 0) for f in set(FAULTS)):
        problems.append(f"not every fault was exercised: {Provider.calls}")
    print("PASS" if not problems else "FAIL: " + "; ".join(problems))
    sys.exit(0 if not problems else 1)


if __name__ == "__main__":
    main()
