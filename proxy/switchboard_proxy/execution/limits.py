"""Per-endpoint limits and the retry budget: small counters with an injected clock.

- ConcurrencyLimit: requests in flight to one endpoint (0 = unlimited), shared out by priority when the
  endpoint has no queue to order them (`slots.Slots` decides);
- TokenBucket: requests (or tokens) per minute to one endpoint (0 = unlimited) with a burst capacity,
  reservations given back or charged extra once the real usage is known, and shrunk by the upstream's
  own 429 / x-ratelimit signals until their reset;
- RetryBudget: same-endpoint retries allowed as a share of recent requests, so that an outage cannot
  multiply upstream load (Finagle's idea: a deposit per request, a withdrawal per retry, and a small
  floor per second so that quiet routes can still retry).

The concurrency limit and the buckets are taken and given back by `leasing.Lease` alone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

Clock = Callable[[], float]


def loop_time() -> float:
    """The running event loop's clock (what deadlines are measured in), else the monotonic clock."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


# Share of an endpoint's concurrency limit each priority may fill when nothing may wait (`maxQueue: 0`).
# Under overload, sheddable work is turned away first (once the endpoint is 60% busy), then standard work
# (85%); critical work may use it all.
PRIORITY_SHARE: dict[str, float] = {"critical": 1.0, "standard": 0.85, "sheddable": 0.6}


class ConcurrencyLimit:
    """Counts requests in flight; `try_acquire` refuses beyond the priority's share of the limit in force
    (the adaptive limit when one is given, else the static `limit`)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.inflight = 0

    @property
    def is_full(self) -> bool:
        return bool(self.limit) and self.inflight >= self.limit

    def ceiling(self, priority: str, limit: int | None = None) -> int:
        """How many requests may be in flight when one of this priority asks (never below 1)."""
        return max(1, int((self.limit if limit is None else limit) * PRIORITY_SHARE[priority]))

    def has_room(self, priority: str, limit: int | None = None) -> bool:
        return not self.limit or self.inflight < min(self.limit, self.ceiling(priority, limit))

    def try_acquire(self, priority: str = "critical", limit: int | None = None) -> bool:
        if not self.has_room(priority, limit):
            return False
        self.inflight += 1
        return True

    def release_slot(self) -> None:
        self.inflight -= 1


class TokenBucket:
    """`rate_per_minute` tokens refilled continuously, holding at most `capacity` (the burst; default one
    minute's worth). An upstream's own limit signals can shrink it until a reset (`shrink`)."""

    def __init__(
        self, rate_per_minute: float, *, capacity: float | None = None, clock: Clock = time.monotonic
    ) -> None:
        self.rate_per_minute = rate_per_minute
        self.capacity = float(capacity or rate_per_minute)
        self._clock = clock
        self._tokens = self.capacity
        self._updated = clock()
        self._held_until = 0.0  # no refill (and nothing taken, if unlimited) before this time

    def _refill(self) -> None:
        now = self._clock()
        if now < self._held_until:
            self._updated = now
            return
        since = max(self._updated, self._held_until)
        self._tokens = min(self.capacity, self._tokens + (now - since) * self.rate_per_minute / 60)
        self._updated = now

    @property
    def is_empty(self) -> bool:
        if not self.rate_per_minute:
            return self._clock() < self._held_until
        self._refill()
        return self._tokens < 1

    @property
    def available(self) -> float:
        """Tokens that could be taken now (infinite when unlimited and not held)."""
        if not self.rate_per_minute:
            return 0.0 if self._clock() < self._held_until else float("inf")
        self._refill()
        return self._tokens

    def try_take(self, amount: float = 1.0) -> bool:
        if not self.rate_per_minute:
            return self._clock() >= self._held_until
        self._refill()
        if self._tokens < amount:
            return False
        self._tokens -= amount
        return True

    def settle(self, amount: float) -> None:
        """Correct a reservation by `amount`: positive gives tokens back (never above the capacity),
        negative charges what was used beyond it (the bucket may go below zero: later requests wait)."""
        if self.rate_per_minute and amount:
            self._refill()
            self._tokens = min(self.capacity, self._tokens + amount)

    def shrink(self, remaining: float, *, until: float) -> None:
        """The upstream says only `remaining` are left until `until` (its reset or Retry-After)."""
        self._refill()
        self._tokens = min(self._tokens, remaining)
        self._held_until = max(self._held_until, until)

    @property
    def is_held(self) -> bool:
        """The upstream's own word holds the bucket back right now (no clock read if it never did)."""
        return bool(self._held_until) and self._clock() < self._held_until

    def rescale(self, rate_per_minute: float, *, capacity: float) -> None:
        """A new rate and capacity (a fleet's share), keeping what is in the bucket up to the capacity."""
        self._refill()
        self.rate_per_minute = rate_per_minute
        self.capacity = capacity
        self._tokens = min(self._tokens, capacity)

    def seconds_until(self, amount: float = 1.0) -> float:
        """How long until `amount` could be taken (0 when it could now)."""
        now = self._clock()
        held = max(0.0, self._held_until - now)
        if not self.rate_per_minute:
            return held
        self._refill()
        missing = max(0.0, amount - self._tokens)
        return held + missing * 60 / self.rate_per_minute


class RetryBudget:
    """Retries allowed: `percent` of the requests of the last `window_seconds`, plus a small floor."""

    def __init__(
        self,
        percent: int,
        *,
        window_seconds: int = 10,
        min_per_second: float = 1.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.percent = percent
        self.window_seconds = window_seconds
        self.min_per_second = min_per_second
        self._clock = clock
        self._requests = [0] * window_seconds
        self._retries = [0] * window_seconds
        self._epoch = int(clock())

    def _advance(self) -> int:
        now = int(self._clock())
        if now - self._epoch >= self.window_seconds:
            self._requests = [0] * self.window_seconds
            self._retries = [0] * self.window_seconds
        else:
            for second in range(self._epoch + 1, now + 1):
                slot = second % self.window_seconds
                self._requests[slot] = 0
                self._retries[slot] = 0
        self._epoch = max(self._epoch, now)
        return now % self.window_seconds

    def record_request(self) -> None:
        self._requests[self._advance()] += 1

    def try_spend(self) -> bool:
        """Take one retry from the budget if there is one left."""
        slot = self._advance()
        if not self.percent:
            return False
        allowed = sum(self._requests) * self.percent / 100 + self.min_per_second * self.window_seconds
        if sum(self._retries) + 1 > allowed:
            return False
        self._retries[slot] += 1
        return True
