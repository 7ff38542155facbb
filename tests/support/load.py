"""Bounded load from the test process: many concurrent requests with aiohttp, every one of them accounted.

`burst()` sends a fixed list of requests at once; `closed_loop()` keeps `concurrency` requests in flight
for a bounded time and count. Both return every answer (status, headers, seconds), never raise for one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    seconds: float
    body: bytes = b""


async def _post(session: aiohttp.ClientSession, url: str, body: Any, headers: dict[str, str]) -> Answer:
    started = time.monotonic()
    try:
        async with session.post(url, json=body, headers=headers) as response:
            data = await response.read()
            return Answer(response.status, dict(response.headers), time.monotonic() - started, data)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Answer(0, {"error": type(exc).__name__}, time.monotonic() - started)


def burst(requests: Sequence[tuple[str, Any, dict[str, str]]], *, timeout: float = 60) -> list[Answer]:
    """Every (url, body, headers) at once; the answers in the same order."""

    async def run() -> list[Answer]:
        connector = aiohttp.TCPConnector(limit=0)
        client_timeout = aiohttp.ClientTimeout(total=timeout)
        async with aiohttp.ClientSession(connector=connector, timeout=client_timeout) as session:
            return list(await asyncio.gather(*(_post(session, u, b, h) for u, b, h in requests)))

    return asyncio.run(run())


def closed_loop(
    next_request: Callable[[int], tuple[str, Any, dict[str, str]]],
    *,
    concurrency: int,
    seconds: float,
    max_requests: int,
    on_tick: Callable[[float], None] | None = None,
    pause: float = 0.0,
) -> list[Answer]:
    """`concurrency` workers, each sending its next request as soon as the last one answered, for at most
    `seconds` and `max_requests` in all, each pausing `pause` seconds after an answer; `on_tick(elapsed)` is
    called about every 100 ms (on the same event loop, so it must be quick)."""

    async def run() -> list[Answer]:
        answers: list[Answer] = []
        stop_at = time.monotonic() + seconds
        counter = iter(range(max_requests))
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=60)
        ) as session:

            async def worker() -> None:
                while time.monotonic() < stop_at:
                    index = next(counter, None)
                    if index is None:
                        return
                    url, body, headers = next_request(index)
                    answers.append(await _post(session, url, body, headers))
                    if pause:
                        await asyncio.sleep(pause)

            async def ticker() -> None:
                started = time.monotonic()
                while time.monotonic() < stop_at:
                    await asyncio.sleep(0.1)
                    if on_tick is not None:
                        on_tick(time.monotonic() - started)

            tick = asyncio.create_task(ticker())
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            tick.cancel()
        return answers

    return asyncio.run(run())
