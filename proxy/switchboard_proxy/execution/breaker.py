"""CircuitBreaker: stop sending to an endpoint that keeps failing, and find out when it is back.

States, in the standard words:
- closed: traffic flows; consecutive failures are counted and a success resets the count;
- open: after `consecutive_failures` failures in a row, nothing is sent for `open_seconds`;
- half-open: after that, exactly one probe request is let through; its success closes the circuit, its
  failure opens it again for another `open_seconds`.

One breaker per endpoint, shared by every route of the sidecar and kept across config reloads. Only real
upstream faults are recorded (see classify.NOT_ENDPOINT_FAULTS); shedding, client disconnects and client
errors never reach it. The clock is injected so that tests do not sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half-open"]


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
        self._probe_in_flight = False

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

    def allow(self) -> bool:
        """May a request be sent now? In half-open, only one probe at a time is allowed."""
        state = self.state
        if state == "closed":
            return True
        if state == "open" or self._probe_in_flight:
            return False
        self._probe_in_flight = True
        return True

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probe_in_flight = False

    def record_failure(self) -> None:
        if self._opened_at is not None:  # the probe failed: open again for a full period
            self._opened_at = self._clock()
            self._probe_in_flight = False
            return
        self._failures += 1
        if self._failures >= self.consecutive_failures:
            self._opened_at = self._clock()

    def release(self) -> None:
        """An allowed request ended without a verdict (client gone, shed): free the probe slot."""
        self._probe_in_flight = False
