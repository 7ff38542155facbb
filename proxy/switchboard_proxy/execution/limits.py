"""Per-endpoint limits and the retry budget: small counters with an injected clock.

- ConcurrencyLimit: requests in flight to one endpoint (0 = unlimited), shared out by priority;
- TokenBucket: requests (or tokens) per minute to one endpoint (0 = unlimited), with reservations
  given back or charged extra once the real usage is known;
- RetryBudget: same-endpoint retries allowed as a share of recent requests, so that an outage cannot
  multiply upstream load (Finagle's idea: a deposit per request, a withdrawal per retry, and a small
  floor per second so that quiet routes can still retry).

The concurrency limit and the buckets are taken and given back by `leasing.Lease` alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable

Clock = Callable[[], float]


# Share of an endpoint's concurrency limit each priority may fill. Under overload, sheddable work is
# turned away first (once the endpoint is 60% busy), then standard work (85%); critical work may use it all.
PRIORITY_SHARE: dict[str, float] = {"critical": 1.0, "standard": 0.85, "sheddable": 0.6}


class ConcurrencyLimit:
    """Counts requests in flight; `try_acquire` refuses beyond the priority's share of the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.inflight = 0

    @property
    def is_full(self) -> bool:
        return bool(self.limit) and self.inflight >= self.limit

    def ceiling(self, priority: str) -> int:
        """How many requests may be in flight when one of this priority asks (never below 1)."""
        return max(1, int(self.limit * PRIORITY_SHARE[priority]))

    def try_acquire(self, priority: str = "critical") -> bool:
        if self.limit and self.inflight >= self.ceiling(priority):
            return False
        self.inflight += 1
        return True

    def release_slot(self) -> None:
        self.inflight -= 1


class TokenBucket:
    """`rate_per_minute` tokens refilled continuously, bursting up to one minute's worth."""

    def __init__(self, rate_per_minute: int, *, clock: Clock = time.monotonic) -> None:
        self.rate_per_minute = rate_per_minute
        self._clock = clock
        self._tokens = float(rate_per_minute)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(
            float(self.rate_per_minute), self._tokens + (now - self._updated) * self.rate_per_minute / 60
        )
        self._updated = now

    @property
    def is_empty(self) -> bool:
        if not self.rate_per_minute:
            return False
        self._refill()
        return self._tokens < 1

    @property
    def available(self) -> float:
        """Tokens that could be taken now (the rate itself when unlimited)."""
        if not self.rate_per_minute:
            return float("inf")
        self._refill()
        return self._tokens

    def try_take(self, amount: float = 1.0) -> bool:
        if not self.rate_per_minute:
            return True
        self._refill()
        if self._tokens < amount:
            return False
        self._tokens -= amount
        return True

    def settle(self, amount: float) -> None:
        """Correct a reservation by `amount`: positive gives tokens back (never above a minute's worth),
        negative charges what was used beyond it (the bucket may go below zero: later requests wait)."""
        if self.rate_per_minute and amount:
            self._refill()
            self._tokens = min(float(self.rate_per_minute), self._tokens + amount)


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
