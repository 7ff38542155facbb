"""CircuitBreaker: stop sending to an endpoint that keeps failing, and find out when it is back.

States, in the standard words:
- closed: traffic flows; consecutive failures are counted and a success resets the count;
- open: after `consecutive_failures` failures in a row, nothing is sent for `open_seconds`;
- half-open: after that, exactly one probe request is let through; its success closes the circuit, its
  failure opens it again for another `open_seconds`.

Every request the breaker lets through holds a `Permit`, and the breaker knows which permit is the probe:
only the probe's own verdict moves a half-open circuit, and only the probe's holder frees the probe slot.
A permit also carries the breaker's epoch (how many times it has opened): verdicts of requests let
through before the circuit last opened are stale and change nothing. Permits are taken and given back
by `leasing.Lease` alone, which is how an attempt that ends blameless (client gone, hedge lost) can
never free a probe it did not hold.

One breaker per endpoint, shared by every route of the sidecar and kept across config reloads. The clock
is injected so that tests do not sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half-open"]


class Permit:
    """One request's leave to reach the endpoint; `probe` is true for the half-open circuit's probe."""

    __slots__ = ("epoch", "probe")

    def __init__(self, epoch: int, *, probe: bool) -> None:
        self.epoch = epoch
        self.probe = probe


class CircuitBreaker:
    """Consecutive-failures breaker with a single half-open probe."""

    def __init__(
        self, consecutive_failures: int, open_seconds: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.consecutive_failures = consecutive_failures
        self.open_seconds = open_seconds
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._epoch = 0
        self._probe: Permit | None = None
        self._closed_permit = Permit(0, probe=False)  # shared by every request of one closed period

    def configure(self, consecutive_failures: int, open_seconds: float) -> None:
        """Apply new thresholds from a reloaded config without forgetting the current state."""
        self.consecutive_failures = consecutive_failures
        self.open_seconds = open_seconds

    @property
    def state(self) -> State:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at < self.open_seconds:
            return "open"
        return "half-open"

    @property
    def is_probing(self) -> bool:
        """A half-open probe is in flight."""
        return self._probe is not None

    @property
    def epoch(self) -> int:
        """How many times the circuit has opened."""
        return self._epoch

    def trip(self) -> bool:
        """Open a closed circuit because another sidecar of the fleet saw the endpoint fail; True if it did.
        A half-open circuit keeps its probe: that probe's own verdict is fresher news."""
        if self._opened_at is not None:
            return False
        self._open()
        return True

    def acquire(self) -> Permit | None:
        """Leave to send one request now, or None; in half-open only one probe holds it at a time."""
        if self._opened_at is None:
            return self._closed_permit
        if self._probe is not None or self._clock() - self._opened_at < self.open_seconds:
            return None
        self._probe = Permit(self._epoch, probe=True)
        return self._probe

    def on_success(self, permit: Permit) -> Permit:
        """The request answered well. Returns the permit that covers any later verdict of the same
        request (a stream that fails after its first event was good)."""
        if permit is self._probe:
            self._probe = None
            self._opened_at = None
            self._failures = 0
        elif permit.epoch == self._epoch and self._opened_at is None:
            self._failures = 0
        return self._closed_permit if self._opened_at is None else permit

    def on_failure(self, permit: Permit) -> None:
        """The request failed through the endpoint's fault."""
        if permit is self._probe:
            self._probe = None
            self._open()
        elif permit.epoch == self._epoch and self._opened_at is None:
            self._failures += 1
            if self._failures >= self.consecutive_failures:
                self._open()

    def on_release(self, permit: Permit) -> None:
        """The request ended without a verdict on the endpoint: a probe's slot is free again."""
        if permit is self._probe:
            self._probe = None

    def _open(self) -> None:
        self._opened_at = self._clock()
        self._failures = 0
        self._epoch += 1
        self._closed_permit = Permit(self._epoch, probe=False)
