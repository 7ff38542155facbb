"""`RateLimit`: one endpoint's requests- or tokens-per-minute bucket, alone or shared by the fleet.

Alone (no `--state`), it is a local `TokenBucket` of the configured rate and burst. In a fleet, the
bucket lives in Redis (refilled on Redis's clock, so every sidecar sees one bucket) and each sidecar
leases tokens from it: exactly what it needs when the rate is low (one request per second leases one
token per request, so a sliding window can never see more than the rate plus the burst), a fifth of a
second's worth of its share more when the rate is high, so a busy sidecar asks Redis a few times a
second rather than per request. Leased tokens unused after `LEASE_SECONDS` are dropped, never hoarded.
While the fleet is down the local bucket takes over at this sidecar's share (rate and burst / live
sidecars). The upstream's own signals (a 429, x-ratelimit headers) shrink the local bucket, which holds
even a shared one back until the reset. Taken and settled by `leasing.Lease` alone.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from .limits import TokenBucket

if TYPE_CHECKING:
    from .fleet import Fleet

LEASE_SECONDS = 1.0
PREFETCH_SECONDS = 0.2  # of this sidecar's share of the rate, leased beyond what a request needs


def lease_size(*, need: float, rate_per_minute: int, live_sidecars: int) -> int:
    """How many tokens to lease from the shared bucket for a request that needs `need` (pure)."""
    extra = math.floor(rate_per_minute / 60 * PREFETCH_SECONDS / max(1, live_sidecars))
    return math.ceil(need) + extra


class RateLimit:
    """A rate limit of one endpoint (see the module docstring); `rate_per_minute` 0 means none."""

    def __init__(
        self,
        key: str,
        rate_per_minute: int,
        *,
        capacity: int,
        fleet: Fleet | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.key = key
        self.rate_per_minute = rate_per_minute
        self.capacity = capacity or rate_per_minute
        self.fleet = fleet
        self._clock = clock
        self.local = TokenBucket(rate_per_minute, capacity=self.capacity, clock=clock)
        self._share_of = 1  # the live sidecars the local bucket is scaled for
        self._leased = 0.0
        self._lease_until = 0.0
        self.fleet_left = float(self.capacity)  # the shared bucket, as last seen

    @property
    def is_active(self) -> bool:
        """Is there anything to take or check: a rate, or the upstream's word holding an unlimited one?"""
        return bool(self.rate_per_minute) or self.local.is_held

    @property
    def is_shared(self) -> bool:
        return self.fleet is not None and self.fleet.is_up and bool(self.rate_per_minute)

    async def take(self, amount: float = 1.0) -> bool:
        """Take `amount` now, or False when the bucket (or the upstream's word) says no."""
        if not self.is_shared:
            self._scale_local()
            return self.local.try_take(amount)
        if self.local.is_held:
            return False
        assert self.fleet is not None
        now = self._clock()
        if now > self._lease_until:
            self._leased = 0.0
        if self._leased >= amount:
            self._leased -= amount
            return True
        need = amount - self._leased
        want = lease_size(
            need=need, rate_per_minute=self.rate_per_minute, live_sidecars=self.fleet.live_sidecars
        )
        answer = await self.fleet.take_tokens(
            self.key,
            rate_per_minute=self.rate_per_minute,
            capacity=self.capacity,
            want=want,
            minimum=math.ceil(need),
        )
        if answer is None:  # the fleet just went down: this sidecar's share decides
            self._scale_local()
            return self.local.try_take(amount)
        granted, self.fleet_left = answer[0], float(answer[1])
        if not granted:
            return False
        self._leased += granted - amount
        self._lease_until = now + LEASE_SECONDS
        return True

    def settle(self, amount: float) -> None:
        """Correct a reservation: positive gives back, negative charges what was used beyond it."""
        if not amount or not self.rate_per_minute:
            return
        if self.is_shared:
            assert self.fleet is not None
            self.fleet.add_bucket_delta(
                self.key, rate_per_minute=self.rate_per_minute, capacity=self.capacity, delta=amount
            )
        else:
            self.local.settle(amount)

    def shrink(self, remaining: float, *, seconds: float) -> None:
        """The upstream said only `remaining` are left for `seconds`: hold back until then."""
        self.local.shrink(remaining, until=self._clock() + seconds)
        if remaining < 1:
            self._leased = 0.0

    def _scale_local(self) -> None:
        """Alone: the whole limit; in a fleet that is away: this sidecar's share of it."""
        share = self.fleet.live_sidecars if self.fleet is not None else 1
        if share != self._share_of and self.rate_per_minute:
            self._share_of = share
            self.local.rescale(self.rate_per_minute / share, capacity=self.capacity / share)

    @property
    def is_empty(self) -> bool:
        """Nothing can be taken now, as far as this sidecar can tell without asking the fleet."""
        if self.is_shared:
            return self.local.is_held
        return self.local.is_empty

    @property
    def available(self) -> float:
        """Tokens that could be taken now: the shared bucket's as last seen plus what is leased."""
        if self.is_shared:
            return 0.0 if self.local.is_held else self.fleet_left + self._leased
        return self.local.available

    def seconds_until(self, amount: float = 1.0) -> float:
        return self.local.seconds_until(amount)
