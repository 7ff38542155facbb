"""The load generator: a separate process, so it never shares an event loop with what it measures.

It runs as a worker: one JSON command per line on stdin, one JSON reply per line on stdout, until EOF.
`bench/driver.py` is its other end. Every command is bounded (a request count and a time limit), so a
stuck target ends a phase with errors instead of hanging the benchmark.

Commands (all POST a JSON body to `url`; `warmup` requests go first and are not measured):
  {"op": "open", "url", "body", "rate", "count", "stream"}
      open loop: request i starts at t0 + i/rate whatever earlier requests are doing (no coordinated
      omission); replies with every latency in ms (and time to first body byte when `stream`).
  {"op": "closed", "url", "body", "concurrency", "seconds", "requests"}
      closed loop: `concurrency` connections each send back-to-back until `requests` are done or
      `seconds` have passed; replies with the count, the wall time and a few latency quantiles.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import uvloop

REQUEST_TIMEOUT_S = 10.0
WARMUP_CONCURRENCY = 8


@dataclass
class Tally:
    """What one command observed."""

    latencies_ms: list[float] = field(default_factory=list)
    ttfb_ms: list[float] = field(default_factory=list)
    lag_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""

    def fail(self, what: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or what


async def one_request(session: aiohttp.ClientSession, url: str, payload: bytes, tally: Tally) -> None:
    """One POST, timed from the call to the last body byte (and to the first body byte)."""
    start = time.perf_counter()
    try:
        async with session.post(url, data=payload, headers={"Content-Type": "application/json"}) as resp:
            first = await resp.content.readany()
            first_at = time.perf_counter()
            rest = await resp.read()
            if resp.status != 200 or not (first or rest):
                tally.fail(f"HTTP {resp.status}: {(first + rest)[:200]!r}")
                return
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        tally.fail(f"{type(exc).__name__}: {exc}")
        return
    end = time.perf_counter()
    tally.latencies_ms.append((end - start) * 1000)
    tally.ttfb_ms.append((first_at - start) * 1000)


def new_session(connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections, keepalive_timeout=60),
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
    )


async def closed_loop(
    url: str, payload: bytes, *, concurrency: int, seconds: float, requests: int
) -> dict[str, Any]:
    """`concurrency` workers back to back; stops at `requests` completions or after `seconds`."""
    tally = Tally()
    started = 0
    async with new_session(concurrency) as session:
        deadline = time.perf_counter() + seconds
        begin = time.perf_counter()

        async def worker() -> None:
            nonlocal started
            while started < requests and time.perf_counter() < deadline:
                started += 1
                await one_request(session, url, payload, tally)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - begin
    done = len(tally.latencies_ms)
    ordered = sorted(tally.latencies_ms) or [0.0]
    return {
        "completed": done,
        "errors": tally.errors,
        "first_error": tally.first_error,
        "seconds": elapsed,
        "rps": done / elapsed if elapsed else 0.0,
        "p50_ms": ordered[len(ordered) // 2],
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
    }


async def open_loop(url: str, payload: bytes, *, rate: float, count: int, stream: bool) -> dict[str, Any]:
    """Start request i at t0 + i/rate; a slow answer never delays the next start."""
    tally = Tally()
    loop = asyncio.get_running_loop()
    async with new_session(256) as session:
        tasks: list[asyncio.Task[None]] = []
        t0 = time.perf_counter() + 0.05
        for i in range(count):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tally.lag_ms.append(max(0.0, (time.perf_counter() - due) * 1000))
            tasks.append(loop.create_task(one_request(session, url, payload, tally)))
        await asyncio.gather(*tasks)
    lag = sorted(tally.lag_ms) or [0.0]
    return {
        "latencies_ms": tally.latencies_ms,
        "ttfb_ms": tally.ttfb_ms if stream else [],
        "errors": tally.errors,
        "first_error": tally.first_error,
        "lag_p99_ms": lag[min(len(lag) - 1, int(len(lag) * 0.99))],
        "seconds": time.perf_counter() - t0,
    }


async def execute(command: dict[str, Any]) -> dict[str, Any]:
    url, payload = command["url"], json.dumps(command["body"]).encode()
    warmup = int(command.get("warmup", 0))
    if warmup:
        await closed_loop(url, payload, concurrency=WARMUP_CONCURRENCY, seconds=30, requests=warmup)
    if command["op"] == "open":
        return await open_loop(
            url, payload, rate=command["rate"], count=command["count"], stream=bool(command.get("stream"))
        )
    if command["op"] == "closed":
        return await closed_loop(
            url,
            payload,
            concurrency=command["concurrency"],
            seconds=command["seconds"],
            requests=command.get("requests") or sys.maxsize,
        )
    raise ValueError(f"unknown op {command['op']!r}")


async def serve() -> None:
    """Answer commands from stdin until EOF; a failed command answers {"error": ...} and the next runs."""
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, sys.stdin.readline):
        try:
            reply = await execute(json.loads(line))
        except Exception as exc:
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cpus", default="", help="comma-separated CPUs to pin this process to")
    args = parser.parse_args()
    if args.cpus:
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    uvloop.run(serve())


if __name__ == "__main__":
    main()
