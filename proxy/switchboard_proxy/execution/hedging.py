"""`race()`: a hedged request. The first attempt runs alone for `delay` seconds; if it has not answered by
then a second attempt starts and whichever is servable first wins. The loser is cancelled, and if both
happened to become servable, the extra answer is discarded (`Ready.discard`: its stream and its lease
are given back) so no connection or concurrency slot leaks.

Whatever ends the race early (a winner, a failure the walk must not fail over on, or the caller being
cancelled because its client left) cancels every attempt still running: nothing outlives the race.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from .attempts import Ready

AttemptTask = asyncio.Future[Ready | None]


async def race(
    first: AttemptTask,
    start_second: Callable[[], Awaitable[AttemptTask | None]],
    *,
    delay: float,
    is_decided: Callable[[], bool],
) -> Ready | None:
    """Run `first`; start the second after `delay` (or at once if the first failed); first servable wins.

    `is_decided()` is true once a finished attempt settled the request without an answer (a failure the
    policy does not fail over on): then no second attempt starts and a running one is cancelled.
    """
    started: set[AttemptTask] = {first}
    try:
        done, _ = await asyncio.wait({first}, timeout=delay)
        if done and (first.result() is not None or is_decided()):
            return first.result()
        second = await start_second()
        if second is None:
            return await first
        started.add(second)
        return await _first_servable(started, is_decided)
    except asyncio.CancelledError:
        await _cancel({task for task in started if not task.done()})
        raise


async def _first_servable(pending: set[AttemptTask], is_decided: Callable[[], bool]) -> Ready | None:
    while pending:
        finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        results = [task.result() for task in finished]
        winner = next((result for result in results if result is not None), None)
        if winner is not None or is_decided():
            for result in results:
                if result is not None and result is not winner:
                    result.discard()
            await _cancel(pending)
            return winner
    return None


async def _cancel(tasks: set[AttemptTask]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            result = await task
            if result is not None:
                result.discard()
