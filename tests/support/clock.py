"""`FakeClock`: the injected clock of the sidecar's small state machines (breaker, buckets, budgets)."""

from __future__ import annotations


class FakeClock:
    """A callable returning `now`, which only `advance` (or an assignment) moves."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
