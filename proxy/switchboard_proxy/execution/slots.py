"""`Slots`: one endpoint's concurrency: the limit in force, the queue in front of it, what it has learnt.

An attempt takes a slot at once when the limit has room (the adaptive limit, or `maxConcurrency` for
routes that turned adaptation off). With a queue, priority decides the order of waiting, not the room:
every band may fill the whole limit, and a freed slot goes to the most important waiter, so critical
work waits about one slot's turnover at most. (Static shares of the limit would also hide the upstream's
knee from the adaptive limit: standard traffic alone, held to 85% of it, sees no-load latency until the
limit is 1/0.85 above the knee, which is where the limit would then settle.) Without a queue
(`maxQueue: 0`) nothing can wait, so the static shares of `limits.PRIORITY_SHARE` decide who is refused
first. Otherwise it waits in the endpoint's
`WaitQueue`, but only if no more important work is waiting already (else it is refused at once: under
overload sheddable work goes first, then standard) and only if it can still meet its deadline: the
expected wait (the waiters ahead of it over the rate at which slots free up) plus the endpoint's time
to first byte must fit before the deadline,
or it is refused at once; a waiter is refused the moment that stops being true, never after its deadline.
A slot given back goes straight to the queue's head, so nobody barges past a waiter.

It also learns: the time each attempt held its slot and took to its first byte (estimates for the
deadline check), and the adaptive limit's samples. Taken and given back by `leasing.Lease` alone.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from ..accounting.families import HistogramChild
from ..config import EndpointConfig
from ..routing.request import Priority
from .adaptive import AdaptiveLimit
from .limits import ConcurrencyLimit
from .outcomes import Refusal
from .queueing import BANDS, Waiter, WaitQueue, can_meet_deadline, expected_wait_seconds, give_up_at

WAIT_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
ESTIMATE_WEIGHT = 0.2


class Slots:
    """Concurrency slots of one endpoint (see the module docstring)."""

    def __init__(self, config: EndpointConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.concurrency = ConcurrencyLimit(config.max_concurrency)
        self.adaptive: AdaptiveLimit | None = None
        self.queue = WaitQueue(config.max_queue)
        self.hold_seconds = 0.0  # how long an attempt keeps its slot (EWMA)
        self.first_byte_seconds = 0.0  # admission to the upstream's first byte (EWMA)
        self.waits = {band: HistogramChild(WAIT_BUCKETS) for band in BANDS}  # queue_wait_seconds
        self._seq = 0
        self.reconfigure(config)

    def reconfigure(self, config: EndpointConfig) -> None:
        self.concurrency.limit = config.max_concurrency
        self.queue.capacity = config.max_queue if config.max_concurrency else 0
        if not config.adaptive_concurrency:
            self.adaptive = None
        elif self.adaptive is None:
            self.adaptive = AdaptiveLimit(config.max_concurrency, now=self._clock())
        else:
            self.adaptive.reconfigure(config.max_concurrency)
        self._grant()

    @property
    def inflight(self) -> int:
        return self.concurrency.inflight

    @property
    def limit(self) -> int:
        """The limit in force for adaptive traffic (0 = unlimited)."""
        if self.adaptive is not None:
            return self.adaptive.limit
        return self.concurrency.limit

    @property
    def is_learning(self) -> bool:
        """Does it learn from durations (hold, first byte, the adaptive limit)? Only with a limit: an
        unlimited endpoint has nothing to queue for and nothing to adapt."""
        return bool(self.concurrency.limit)

    @property
    def is_closed(self) -> bool:
        """Full, and nobody more may queue: the planner skips the endpoint."""
        return self.concurrency.is_full and len(self.queue) >= self.queue.capacity

    def _limit_for(self, adaptive: bool) -> int | None:
        return self.adaptive.limit if adaptive and self.adaptive is not None else None

    def _share_of(self, priority: Priority) -> Priority:
        """The band whose share of the limit `priority` may fill: its own without a queue, else all of it
        (the queue's order is the priority; see the module docstring)."""
        return "critical" if self.queue.capacity else priority

    def try_take_now(self, priority: Priority, *, adaptive: bool = True) -> bool:
        """A slot at once if the limit (its priority's share, without a queue) has room: the common case."""
        concurrency = self.concurrency
        if not concurrency.limit:  # unlimited: counted, nothing to decide
            concurrency.inflight += 1
            return True
        return concurrency.try_acquire(self._share_of(priority), self._limit_for(adaptive))

    async def take(self, priority: Priority, *, deadline: float, adaptive: bool = True) -> Refusal | None:
        """A slot for one attempt (None), or why not; `deadline` is event-loop time."""
        limit = self._limit_for(adaptive)
        if self.concurrency.try_acquire(self._share_of(priority), limit):
            return None
        if not self.queue.capacity:
            return Refusal.CONCURRENCY if self.concurrency.is_full else Refusal.SHED
        if self.queue.is_outranked(priority):
            return Refusal.SHED  # sheddable first, then standard: refused in microseconds, not after a wait
        loop = asyncio.get_running_loop()
        now = loop.time()
        slots = self.concurrency.ceiling(self._share_of(priority), limit)
        wait = expected_wait_seconds(
            self.queue.ahead_of(priority), slots=slots, hold_seconds=self.hold_seconds
        )
        if not can_meet_deadline(now, deadline, wait_seconds=wait, service_seconds=self.first_byte_seconds):
            return Refusal.DEADLINE
        return await self._wait(priority, deadline=deadline, adaptive=adaptive, now=now)

    async def _wait(
        self, priority: Priority, *, deadline: float, adaptive: bool, now: float
    ) -> Refusal | None:
        self._seq += 1
        waiter = Waiter(priority, deadline, seq=self._seq, enqueued=now, adaptive=adaptive)
        turned_away = self.queue.push(waiter)
        if turned_away is waiter:
            return Refusal.SHED
        if turned_away is not None:
            self._refuse(turned_away, Refusal.SHED)
        loop = asyncio.get_running_loop()
        waiter.timer = loop.call_at(
            give_up_at(deadline, service_seconds=self.first_byte_seconds), self._expire, waiter
        )
        try:
            outcome = await waiter.future
        except asyncio.CancelledError:
            future = waiter.future
            if future.done() and not future.cancelled() and future.result() is None:
                self.give_back()  # granted just before the client left
            else:
                self._forget(waiter)
            raise
        self.waits[priority].observe(loop.time() - waiter.enqueued)
        return outcome

    def _forget(self, waiter: Waiter) -> None:
        self.queue.remove(waiter)
        if waiter.timer is not None:
            waiter.timer.cancel()

    def _refuse(self, waiter: Waiter, refusal: Refusal) -> None:
        self._forget(waiter)
        if not waiter.future.done():
            waiter.future.set_result(refusal)

    def _expire(self, waiter: Waiter) -> None:
        """The waiter can no longer meet its deadline: refused now, not after the deadline."""
        if self.queue.remove(waiter) and not waiter.future.done():
            waiter.future.set_result(Refusal.DEADLINE)

    def _grant(self) -> None:
        """Free slots to the queue's head, as long as its share has room."""
        while (head := self.queue.head()) is not None:
            if not self.concurrency.try_acquire(
                self._share_of(head.priority), self._limit_for(head.adaptive)
            ):
                return
            self._forget(head)
            if head.future.done():  # cancelled meanwhile: the slot is free again
                self.concurrency.release_slot()
                continue
            head.future.set_result(None)

    def give_back(self) -> None:
        """One slot is free again: the queue's head gets it."""
        self.concurrency.release_slot()
        if len(self.queue):
            self._grant()

    def observe_first_byte(self, seconds: float) -> None:
        """An admitted attempt reached its upstream's first byte after `seconds` (only while learning)."""
        self.first_byte_seconds = _ewma(self.first_byte_seconds, seconds)
        if self.adaptive is not None and self.adaptive.sample(
            seconds, inflight=self.concurrency.inflight, now=self._clock()
        ):
            self._grant()

    def observe_push_back(self) -> None:
        """The upstream said it is overloaded (429/503) or did not answer in time."""
        if self.adaptive is not None:
            self.adaptive.push_back(now=self._clock())

    def observe_hold(self, seconds: float) -> None:
        """An admitted attempt held its slot for `seconds` (only while learning)."""
        self.hold_seconds = _ewma(self.hold_seconds, seconds)

    def retry_after(self) -> int:
        """A Retry-After for a refused attempt: about when a slot frees up, at least a second."""
        return max(1, math.ceil(self.hold_seconds))

    def depth(self, priority: str) -> int:
        return self.queue.depth(priority)


def _ewma(value: float, sample: float) -> float:
    return sample if value == 0.0 else value + ESTIMATE_WEIGHT * (sample - value)
