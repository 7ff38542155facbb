"""`wait_until`: poll real, eventually consistent state (the API server, the operator, a sidecar) with a
deadline, and fail saying what was awaited, for how long, and what was last seen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], *, timeout: float, interval: float = 0.1, what: str = "") -> T:
    """Call `predicate` until it returns something truthy and return that; an exception counts as "not
    yet" (the state may be half-written), and is shown if the deadline passes."""
    started = time.monotonic()
    last: object = None
    while True:
        try:
            value = predicate()
        except Exception as exc:  # reported below, with the rest of what was seen
            last = f"{type(exc).__name__}: {exc}"
        else:
            if value:
                return value
            last = value
        if time.monotonic() - started > timeout:
            name = what or getattr(predicate, "__name__", "a condition")
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {name}; last seen: {last!r}")
        time.sleep(interval)


async def until(predicate: Callable[[], T], *, timeout: float, interval: float = 0.01, what: str = "") -> T:
    """`wait_until` for async tests: polls on the event loop's clock (fake under looptime, so a unit test
    waits in loop time, not on the wall clock)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    last: object = None
    while True:
        value = predicate()
        if value:
            return value
        last = value
        if loop.time() - started > timeout:
            name = what or getattr(predicate, "__name__", "a condition")
            raise AssertionError(f"timed out after {timeout:.1f}s waiting for {name}; last seen: {last!r}")
        await asyncio.sleep(interval)
