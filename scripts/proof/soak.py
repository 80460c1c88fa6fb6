#!/usr/bin/env python3
"""Soak: ten minutes of mixed load with 1,000 SSE subscribers; the server's
memory must level off rather than grow with the work done.

The script starts `xl serve` (SQLite, the echo model, rate limits off),
makes 100 threads with auto-reply, and opens 1,000 subscribers to their
event streams (`GET /api/v1/threads/{id}/events`, ten a thread), held by one
asyncio loop over raw HTTP/1.1. Workers then run a paced mix for the whole
time: posts whose assistant replies stream to the subscribers, lists of 50
messages, thread reads, reactions, edits and searches. Every 10 s it reads
the server's RSS (`/proc/<pid>/status`). At the end:

- no request got a 5xx, and no subscriber lost its stream;
- every subscriber received events all along (each saw some in the last
  minute);
- the RSS levelled off: the highest sample of the last third of the run is
  within 15% of the highest of the middle third (memory that tracks the work
  done would keep rising).

Usage: scripts/proof/soak.py [--minutes 10] [--xl target/release/xl]
Needs only Python's standard library.
"""

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from crash import request, start, token  # noqa: E402


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Subscribers:
    """Holds the event-stream subscribers on one asyncio loop."""

    def __init__(self, port, tok, threads, per_thread):
        self.port, self.tok = port, tok
        self.plan = [t for t in threads for _ in range(per_thread)]
        self.last_event = [0.0] * len(self.plan)
        self.events = [0] * len(self.plan)
        self.lost = []
        self.stop = None

    async def one(self, n, thread):
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        writer.write((f"GET /api/v1/threads/{thread}/events HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {self.tok}\r\nAccept: text/event-stream\r\n\r\n").encode())
        await writer.drain()
        status = await reader.readline()
        if b" 200 " not in status:
            self.lost.append((n, status.decode(errors="replace").strip()))
            writer.close()
            return
        try:
            while not self.stop.is_set():
                line = await asyncio.wait_for(reader.readline(), timeout=60)
                if not line:
                    self.lost.append((n, "closed by the server"))
                    return
                if line.startswith(b"event:"):
                    self.events[n] += 1
                    self.last_event[n] = time.time()
        except asyncio.TimeoutError:
            self.lost.append((n, "no byte for 60 s"))
        finally:
            writer.close()

    async def run(self, ready):
        self.stop = asyncio.Event()
        self.loop = asyncio.get_running_loop()
        tasks = []
        for n, thread in enumerate(self.plan):
            tasks.append(asyncio.create_task(self.one(n, thread)))
            if n % 100 == 99:
                await asyncio.sleep(0.05)
        ready.set()
        await self.stop.wait()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self):
        self.loop.call_soon_threadsafe(self.stop.set)


def worker(base, tok, threads, stop, counts, failures):
    rnd = random.Random()
    mine = []
    while not stop.is_set():
        thread = rnd.choice(threads)
        roll = rnd.random()
        try:
            if roll < 0.25:
                _, body = request(base, "POST", f"/api/v1/threads/{thread}/messages?reply=stream",
                                  tok, {"content": "soak " + "word " * rnd.randint(1, 20)})
                mine.append(body["data"]["userMessage"]["id"])
                mine = mine[-50:]
                kind = "post"
            elif roll < 0.65:
                request(base, "GET", f"/api/v1/threads/{thread}/messages?limit=50", tok)
                kind = "list"
            elif roll < 0.80:
                request(base, "GET", f"/api/v1/threads/{thread}", tok)
                kind = "read"
            elif roll < 0.88 and mine:
                request(base, "POST", f"/api/v1/messages/{rnd.choice(mine)}/reactions", tok,
                        {"name": rnd.choice(["thumbsup", "eyes", "tada"])})
                kind = "react"
            elif roll < 0.94 and mine:
                request(base, "PATCH", f"/api/v1/messages/{rnd.choice(mine)}", tok,
                        {"content": "edited during the soak"})
                kind = "edit"
            else:
                request(base, "GET", "/api/v1/search?q=soak&limit=20", tok)
                kind = "search"
            counts[kind] = counts.get(kind, 0) + 1
        except urllib.error.HTTPError as err:
            if err.code >= 500:
                failures.append(f"{err.code} {err.read()[:200]!r}")
            else:
                counts[f"http {err.code}"] = counts.get(f"http {err.code}", 0) + 1
        except (urllib.error.URLError, OSError) as err:
            failures.append(f"cut: {err}")
        time.sleep(0.02)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=100)
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--xl", default="target/release/xl")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="xl-soak-")
    port = 20000 + random.randint(0, 999)
    log_path = os.path.join(workdir, "server.log")
    log = open(log_path, "ab")
    proc, base = start(os.path.abspath(args.xl), workdir, port, log, ECHO_PACE_MS="10")
    tok = token(os.path.abspath(args.xl), workdir, "soak@example.com")
    threads = [request(base, "POST", "/api/v1/threads", tok, {"title": f"soak {i}"})[1]["data"]["id"]
               for i in range(args.threads)]
    subs = Subscribers(port, tok, threads, max(1, args.subscribers // args.threads))
    ready = threading.Event()
    loop_thread = threading.Thread(target=lambda: asyncio.run(subs.run(ready)), daemon=True)
    loop_thread.start()
    ready.wait(60)
    time.sleep(2)
    stop = threading.Event()
    counts, failures = {}, []
    workers = [threading.Thread(target=worker, args=(base, tok, threads, stop, counts, failures))
               for _ in range(args.workers)]
    started = time.time()
    for w in workers:
        w.start()
    samples = []
    end = started + args.minutes * 60
    while time.time() < end:
        samples.append((round(time.time() - started), rss_kib(proc.pid)))
        print(f"{samples[-1][0]:>5} s  RSS {samples[-1][1] / 1024:.1f} MiB  "
              f"requests {sum(counts.values())}  subscribers lost {len(subs.lost)}", flush=True)
        time.sleep(10)
    stop.set()
    for w in workers:
        w.join()
    quiet_since = time.time() - 60
    silent = sum(1 for t in subs.last_event if t < quiet_since)
    subs.close()
    loop_thread.join(30)
    proc.terminate()
    proc.wait(timeout=60)
    third = max(1, len(samples) // 3)
    middle = max(kib for _, kib in samples[third:2 * third] or samples)
    last = max(kib for _, kib in samples[2 * third:] or samples)
    report = {
        "minutes": args.minutes,
        "subscribers": len(subs.plan),
        "requests_by_kind": counts,
        "server_errors_or_cuts": len(failures),
        "subscribers_lost": len(subs.lost),
        "subscribers_silent_in_the_last_minute": silent,
        "events_received": sum(subs.events),
        "rss_mib_first": round(samples[0][1] / 1024, 1),
        "rss_mib_max_middle_third": round(middle / 1024, 1),
        "rss_mib_max_last_third": round(last / 1024, 1),
        "rss_samples_mib": [round(kib / 1024, 1) for _, kib in samples],
    }
    print(json.dumps(report, indent=2))
    problems = []
    if failures:
        problems.append(f"{len(failures)} server errors or cut requests, e.g. {failures[:3]}")
    if subs.lost:
        problems.append(f"{len(subs.lost)} subscribers lost, e.g. {subs.lost[:3]}")
    if silent:
        problems.append(f"{silent} subscribers silent in the last minute")
    if last > middle * 1.15:
        problems.append(f"RSS still growing: {middle / 1024:.1f} MiB -> {last / 1024:.1f} MiB")
    print("PASS" if not problems else "FAIL: " + "; ".join(problems))
    sys.exit(0 if not problems else 1)


if __name__ == "__main__":
    main()
