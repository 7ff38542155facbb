"""`race()`: a hedged request. The first attempt runs alone for `delay` seconds; if it has not answered by
then a second attempt starts and whichever is servable first wins. The loser is cancelled, and if both
happened to become servable, the extra answer is closed so no connection or concurrency slot leaks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from .attempts import Ready

AttemptTask = asyncio.Future[Ready | None]


def discard(ready: Ready) -> None:
    """Give back what a servable answer holds when it will not be served."""
    if ready.response is not None:
        ready.endpoint.concurrency.release()
        ready.close()


async def race(
    first: AttemptTask, start_second: Callable[[], AttemptTask | None], *, delay: float
) -> Ready | None:
    """Run `first`; start the second after `delay` (or at once if the first failed); first servable wins."""
    done, _ = await asyncio.wait({first}, timeout=delay)
    if done and first.result() is not None:
        return first.result()
    second = start_second()
    if done or second is None:
        if second is None:
            return await first
        return await second
    pending: set[AttemptTask] = {first, second}
    try:
        while pending:
            finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            winner = next((task.result() for task in finished if task.result() is not None), None)
            if winner is not None:
                for task in finished:
                    if task.result() is not None and task.result() is not winner:
                        discard(task.result())  # type: ignore[arg-type]
                await _cancel(pending)
                return winner
        return None
    except asyncio.CancelledError:
        await _cancel(pending)
        raise


async def _cancel(tasks: set[AttemptTask]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            result = await task
            if result is not None:
                discard(result)
