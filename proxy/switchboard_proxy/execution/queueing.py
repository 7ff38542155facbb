"""`WaitQueue`: attempts waiting for one endpoint's concurrency slot, by priority band and then deadline.

Bounded. The head is the most important waiter (critical before standard before sheddable; within a
band the earliest deadline, then the earliest arrival). A new waiter that finds the queue full takes the
place of the least important one (the lowest band's latest deadline) if it is more important, and is
turned away otherwise: under overload sheddable work goes first, then standard, and critical keeps its
room. The gate (`leasing.Gate`) grants slots to the head and refuses a waiter the moment it can no
longer meet its deadline; the decisions below are pure.
"""

from __future__ import annotations

import asyncio
from bisect import insort

from ..routing.request import PRIORITY_RANK, Priority
from .outcomes import Refusal

# Bands from the most important down; PRIORITY_RANK says critical > standard > sheddable.
BANDS: tuple[Priority, ...] = tuple(sorted(PRIORITY_RANK, key=PRIORITY_RANK.__getitem__, reverse=True))  # type: ignore[arg-type]


def expected_wait_seconds(ahead: int, *, slots: int, hold_seconds: float) -> float:
    """How long a waiter with `ahead` others before it waits for a slot: the endpoint frees about
    `slots` slots per `hold_seconds` (Little's law), and it needs the (ahead + 1)-th of them."""
    return (ahead + 1) * hold_seconds / max(1, slots)


def can_meet_deadline(now: float, deadline: float, *, wait_seconds: float, service_seconds: float) -> bool:
    """Could a request that waits `wait_seconds` and then takes `service_seconds` still answer in time?"""
    return now + wait_seconds + service_seconds <= deadline


def give_up_at(deadline: float, *, service_seconds: float) -> float:
    """The last moment a waiter may get its slot and still meet its deadline."""
    return deadline - service_seconds


class Waiter:
    """One attempt waiting for a slot; `future` becomes None when granted, or the refusal."""

    __slots__ = ("adaptive", "deadline", "enqueued", "future", "priority", "seq", "timer")

    def __init__(
        self, priority: Priority, deadline: float, *, seq: int, enqueued: float, adaptive: bool = True
    ) -> None:
        self.priority = priority
        self.deadline = deadline
        self.adaptive = adaptive  # held to the adaptive limit (else to maxConcurrency only)
        self.seq = seq
        self.enqueued = enqueued
        self.future: asyncio.Future[Refusal | None] = asyncio.get_running_loop().create_future()
        self.timer: asyncio.TimerHandle | None = None

    def order(self) -> tuple[float, int]:
        return (self.deadline, self.seq)

    def __lt__(self, other: Waiter) -> bool:
        return self.order() < other.order()


class WaitQueue:
    """Waiters in bands, each band sorted by deadline; at most `capacity` in all."""

    __slots__ = ("_bands", "_size", "capacity")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._bands: dict[str, list[Waiter]] = {band: [] for band in BANDS}
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def depth(self, priority: str) -> int:
        return len(self._bands[priority])

    def ahead_of(self, priority: str) -> int:
        """Waiters a new one of `priority` would queue behind (its own band and every higher one)."""
        rank = PRIORITY_RANK[priority]
        return sum(len(self._bands[band]) for band in BANDS if PRIORITY_RANK[band] >= rank)

    def is_outranked(self, priority: str) -> bool:
        """Does more important work than `priority` already wait? Then a newcomer of `priority` would be
        overtaken by every arrival of that work: it is refused at once rather than queued to no end."""
        rank = PRIORITY_RANK[priority]
        return any(self._bands[band] for band in BANDS if PRIORITY_RANK[band] > rank)

    def push(self, waiter: Waiter) -> Waiter | None:
        """Queue `waiter`; returns who must be refused to keep the bound: nobody (None), the least
        important waiter that `waiter` replaced, or `waiter` itself."""
        evicted: Waiter | None = None
        if self._size >= self.capacity:
            victim = self._least_important()
            if victim is None or not _outranks(waiter, victim):
                return waiter
            self.remove(victim)
            evicted = victim
        insort(self._bands[waiter.priority], waiter)
        self._size += 1
        return evicted

    def head(self) -> Waiter | None:
        for band in BANDS:
            waiters = self._bands[band]
            if waiters:
                return waiters[0]
        return None

    def remove(self, waiter: Waiter) -> bool:
        """Take `waiter` out (granted, refused or cancelled); False when it was not queued."""
        waiters = self._bands[waiter.priority]
        try:
            waiters.remove(waiter)
        except ValueError:
            return False
        self._size -= 1
        return True

    def _least_important(self) -> Waiter | None:
        for band in reversed(BANDS):
            waiters = self._bands[band]
            if waiters:
                return waiters[-1]
        return None


def _outranks(new: Waiter, old: Waiter) -> bool:
    """Is `new` more important than `old` (a higher band, or the same band and an earlier deadline)?"""
    new_rank, old_rank = PRIORITY_RANK[new.priority], PRIORITY_RANK[old.priority]
    return new_rank > old_rank or (new_rank == old_rank and new.deadline < old.deadline)
