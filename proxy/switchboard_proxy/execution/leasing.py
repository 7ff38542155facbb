"""Admission: `Gate.admit()` lets one attempt reach an endpoint and returns the `Lease` that holds it.

A lease holds everything the attempt took: the concurrency slot, the request and token reservations of
the endpoint's buckets, and the breaker's permit (in half-open, the probe). It ends exactly once:
- `succeed(usage)`: the upstream answered; the breaker hears it, the token reservation is settled to
  the usage the upstream reported;
- `fail(failure)`: the upstream failed; an endpoint fault counts against the circuit, anything else
  (context length, the client's own mistake) frees the permit without a verdict;
- `abandon()`: nobody's fault (client gone, hedge lost, shadow dropped, cancelled, a timeout that the
  caller's own deadline imposed): the permit is freed without a verdict.
`close()` gives the slot back; it is idempotent, and a lease closed without an ending is abandoned.
One owner closes it: `with lease:` around a JSON attempt, or the stream body's `finally`. Nothing else
in the sidecar takes or releases a slot, a token or a permit (a test checks that).

A refused admission returns a `Refusal` and leaves every other lease exactly as it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import TracebackType

from ..accounting.usage import Usage
from ..config import EndpointConfig
from ..routing.reasons import Reason
from ..routing.request import Priority
from .breaker import CircuitBreaker, Permit
from .classify import Failure, is_endpoint_fault
from .limits import ConcurrencyLimit, TokenBucket
from .outcomes import Refusal


class LeaseError(RuntimeError):
    """A lease was ended twice: a bug in the code that owns it."""


class Gate:
    """One endpoint's admission control: circuit breaker, concurrency limit, request and token buckets."""

    def __init__(self, config: EndpointConfig, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.breaker = CircuitBreaker(
            config.breaker.consecutive_failures, config.breaker.open_seconds, clock=clock
        )
        self.concurrency = ConcurrencyLimit(config.max_concurrency)
        self.requests = TokenBucket(config.requests_per_minute, clock=clock)
        self.tokens = TokenBucket(config.tokens_per_minute, clock=clock)

    def reconfigure(self, config: EndpointConfig) -> None:
        """A reloaded config's limits, keeping the circuit, the slots in flight and unchanged buckets."""
        self.breaker.configure(config.breaker.consecutive_failures, config.breaker.open_seconds)
        self.concurrency.limit = config.max_concurrency
        if self.requests.rate_per_minute != config.requests_per_minute:
            self.requests = TokenBucket(config.requests_per_minute, clock=self._clock)
        if self.tokens.rate_per_minute != config.tokens_per_minute:
            self.tokens = TokenBucket(config.tokens_per_minute, clock=self._clock)

    @property
    def inflight(self) -> int:
        return self.concurrency.inflight

    def limited(self) -> Reason | None:
        """The limit that refuses every new attempt right now (the planner skips such endpoints)."""
        if self.concurrency.is_full:
            return Reason.CONCURRENCY_LIMIT
        if self.requests.is_empty:
            return Reason.RATE_LIMIT
        if self.tokens.is_empty:
            return Reason.TOKEN_RATE_LIMIT
        return None

    async def admit(self, *, priority: Priority, deadline: float, tokens: int) -> Lease | Refusal:
        """A lease for one attempt, or why not. `deadline` (event-loop time) bounds any wait for room;
        `tokens` is the attempt's estimate (prompt + requested output), reserved from the token bucket.
        """
        permit = self.breaker.acquire()
        if permit is None:
            return Refusal.CIRCUIT_OPEN
        if not self.concurrency.try_acquire(priority):
            self.breaker.on_release(permit)
            return Refusal.CONCURRENCY if self.concurrency.is_full else Refusal.SHED
        if not self.requests.try_take():
            self.concurrency.release_slot()
            self.breaker.on_release(permit)
            return Refusal.RATE
        tokens = max(1, tokens)
        if not self.tokens.try_take(tokens):
            self.requests.settle(1)
            self.concurrency.release_slot()
            self.breaker.on_release(permit)
            return Refusal.TOKEN_RATE
        return Lease(self, permit, tokens)


class Lease:
    """What one admitted attempt holds until it ends (see the module docstring)."""

    __slots__ = ("_closed", "_ended", "_gate", "_permit", "_tokens")

    def __init__(self, gate: Gate, permit: Permit, tokens: int) -> None:
        self._gate = gate
        self._permit = permit
        self._tokens = tokens
        self._ended = False
        self._closed = False

    @property
    def ended(self) -> bool:
        return self._ended

    def confirm(self) -> None:
        """The upstream's first event is good: the breaker hears success now (a probe closes a half-open
        circuit at once), while the lease keeps its slot until the stream has ended."""
        if self._ended:
            raise LeaseError("a lease that ended cannot be confirmed")
        self._permit = self._gate.breaker.on_success(self._permit)

    def succeed(self, usage: Usage | None = None) -> None:
        """The upstream answered; the token reservation becomes the usage it reported (when it did)."""
        self._end()
        self._permit = self._gate.breaker.on_success(self._permit)
        if usage is not None:
            used = usage.prompt_tokens + usage.completion_tokens
            if used:
                self._gate.tokens.settle(self._tokens - used)

    def fail(self, failure: Failure) -> None:
        """The upstream failed; only an endpoint fault counts against the circuit."""
        self._end()
        if is_endpoint_fault(failure):
            self._gate.breaker.on_failure(self._permit)
        else:
            self._gate.breaker.on_release(self._permit)

    def abandon(self) -> None:
        """Ended by nobody's fault: no verdict on the endpoint."""
        self._end()
        self._gate.breaker.on_release(self._permit)

    def close(self) -> None:
        """Give the concurrency slot back (idempotent); a lease closed without an ending is abandoned."""
        if self._closed:
            return
        if not self._ended:
            self.abandon()
        self._closed = True
        self._gate.concurrency.release_slot()

    def _end(self) -> None:
        if self._ended:
            raise LeaseError("a lease ends exactly once")
        self._ended = True

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
