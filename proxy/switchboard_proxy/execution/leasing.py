"""Admission: `Gate.admit()` lets one attempt reach an endpoint and returns the `Lease` that holds it.

A lease holds everything the attempt took: the breaker's permit (in half-open, the probe), the route
budget's reservation of its worst case, the concurrency slot (perhaps after waiting in the endpoint's
queue, `slots.py`) and the request and token reservations of the endpoint's buckets (`buckets.py`),
taken in that order, each given back if a later one refuses. It ends exactly once:
- `succeed(usage)`: the upstream answered; the breaker hears it, the token reservation is settled to
  the usage the upstream reported, and the budget reservation to what the answer cost;
- `fail(failure)`: the upstream failed; an endpoint fault counts against the circuit, anything else
  (context length, the client's own mistake) frees the permit without a verdict; a 429 shrinks the
  buckets until its Retry-After, and a 429/503 or a timeout backs the adaptive limit off;
- `abandon()`: nobody's fault (client gone, hedge lost, shadow dropped, cancelled, a timeout that the
  caller's own deadline imposed): the permit is freed without a verdict.
Neither of the last two spends the budget: its reservation is given back. `close()` gives the slot back;
it is idempotent, and a lease closed without an ending is abandoned. One owner closes it: `with lease:`
around a JSON attempt, or the stream body's `finally`. Nothing else in the sidecar takes or releases a
slot, a token, a budget or a permit (a test checks that).

Every answered attempt also tells the endpoint's slots how long it took to its first byte (`confirm()`
for a stream, `succeed()` for JSON): the adaptive limit's sample and the queue's estimate.

A refused admission returns a `Refusal` and leaves every other lease exactly as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, NamedTuple

from ..accounting.budgets import cost_pico
from ..accounting.usage import Usage
from ..config import EndpointConfig
from ..routing.reasons import Reason
from ..routing.request import Priority
from .breaker import CircuitBreaker, Permit
from .buckets import RateLimit
from .budgeting import BudgetAccount, Reservation
from .classify import Failure, is_endpoint_fault
from .limits import loop_time
from .outcomes import Refusal
from .provider_limits import LimitSignal, refusal_signal
from .slots import Slots

if TYPE_CHECKING:
    from .fleet import Fleet

# Failures that say the upstream is past its knee: the adaptive limit backs off.
PUSH_BACK = frozenset({Failure.RATE_LIMITED, Failure.OVERLOADED, Failure.TIMEOUT})


class LeaseError(RuntimeError):
    """A lease was ended twice: a bug in the code that owns it."""


class BudgetClaim(NamedTuple):
    """What an attempt asks of its route's budget: its worst case in pUSD; `exempt` for the cheapest
    endpoint of a `cheapest` budget (counted, never refused)."""

    account: BudgetAccount
    pico: int
    exempt: bool = False


class Gate:
    """One endpoint's admission control: circuit breaker, concurrency slots and queue, rate buckets."""

    def __init__(
        self,
        config: EndpointConfig,
        *,
        clock: Callable[[], float] = loop_time,
        fleet: Fleet | None = None,
    ) -> None:
        self._clock = clock
        self.config = config
        self.fleet = fleet
        self.breaker = CircuitBreaker(
            config.breaker.consecutive_failures, config.breaker.open_seconds, clock=clock
        )
        self.slots = Slots(config, clock=clock)
        self.requests = self._bucket("requests", config.requests_per_minute, config.requests_burst)
        self.tokens = self._bucket("tokens", config.tokens_per_minute, config.tokens_burst)

    def _bucket(self, kind: str, rate: int, burst: int) -> RateLimit:
        key = f"bucket:{self.config.name}:{kind}"
        return RateLimit(key, rate, capacity=burst, fleet=self.fleet, clock=self._clock)

    def reconfigure(self, config: EndpointConfig) -> None:
        """A reloaded config's limits, keeping the circuit, the slots in flight and unchanged buckets."""
        self.config = config
        self.breaker.configure(config.breaker.consecutive_failures, config.breaker.open_seconds)
        self.slots.reconfigure(config)
        if (self.requests.rate_per_minute, self.requests.capacity) != (
            config.requests_per_minute,
            config.requests_burst or config.requests_per_minute,
        ):
            self.requests = self._bucket("requests", config.requests_per_minute, config.requests_burst)
        if (self.tokens.rate_per_minute, self.tokens.capacity) != (
            config.tokens_per_minute,
            config.tokens_burst or config.tokens_per_minute,
        ):
            self.tokens = self._bucket("tokens", config.tokens_per_minute, config.tokens_burst)

    @property
    def inflight(self) -> int:
        return self.slots.inflight

    def limited(self) -> Reason | None:
        """The limit that refuses every new attempt right now (the planner skips such endpoints)."""
        if self.slots.is_closed:
            return Reason.CONCURRENCY_LIMIT
        if self.requests.is_empty:
            return Reason.RATE_LIMIT
        if self.tokens.is_empty:
            return Reason.TOKEN_RATE_LIMIT
        return None

    def trip_by_signal(self) -> None:
        """Another sidecar of the fleet opened this endpoint's circuit."""
        self.breaker.trip()

    def retry_after(self, refusal: Refusal) -> int:
        """Seconds a client refused for `refusal` should wait (at least one)."""
        if refusal == Refusal.RATE:
            return max(1, int(self.requests.seconds_until() + 0.999))
        if refusal == Refusal.TOKEN_RATE:
            return max(1, int(self.tokens.seconds_until() + 0.999))
        return self.slots.retry_after()

    async def admit(
        self,
        *,
        priority: Priority,
        deadline: float,
        tokens: int,
        adaptive: bool = True,
        budget: BudgetClaim | None = None,
    ) -> Lease | Refusal:
        """A lease for one attempt, or why not. `deadline` (event-loop time) bounds any wait for a slot;
        `tokens` is the attempt's estimate (prompt + requested output), reserved from the token bucket;
        `adaptive` false holds it to maxConcurrency rather than the adaptive limit; `budget` is its route
        budget's claim, if the route has one."""
        permit = self.breaker.acquire()
        if permit is None:
            return Refusal.CIRCUIT_OPEN
        reservation: Reservation | None = None
        if budget is not None:
            reservation = await budget.account.reserve(budget.pico, exempt=budget.exempt)
            if reservation is None:
                self.breaker.on_release(permit)
                return Refusal.BUDGET
        tokens = max(1, tokens)
        # The common case takes a slot without waiting and has no buckets: no coroutine is awaited.
        refusal = (
            None
            if self.slots.try_take_now(priority, adaptive=adaptive)
            else await self.slots.take(priority, deadline=deadline, adaptive=adaptive)
        )
        if refusal is None and (self.requests.is_active or self.tokens.is_active):
            refusal = await self._take_rates(tokens)
        if refusal is not None:
            if reservation is not None and budget is not None:
                budget.account.release(reservation)
            self.breaker.on_release(permit)
            return refusal
        account = budget.account if budget is not None else None
        return Lease(self, permit, tokens, account, reservation)

    async def _take_rates(self, tokens: int) -> Refusal | None:
        """The request and token reservations, after the slot (so that a wait in the queue does not
        spend rate tokens before the request is sent); the slot is given back if they refuse."""
        if self.requests.is_active and not await self.requests.take(1):
            self.slots.give_back()
            return Refusal.RATE
        if self.tokens.is_active and not await self.tokens.take(tokens):
            self.requests.settle(1)
            self.slots.give_back()
            return Refusal.TOKEN_RATE
        return None

    def shrink(self, signal: LimitSignal) -> None:
        """The upstream's word on its own limits holds the buckets back until its reset."""
        if signal.requests_remaining is not None and signal.requests_reset_seconds is not None:
            self.requests.shrink(signal.requests_remaining, seconds=signal.requests_reset_seconds)
        if signal.tokens_remaining is not None and signal.tokens_reset_seconds is not None:
            self.tokens.shrink(signal.tokens_remaining, seconds=signal.tokens_reset_seconds)

    def _opened(self, epoch_before: int) -> None:
        if self.fleet is not None and self.breaker.epoch != epoch_before:
            self.fleet.publish_circuit(
                self.config.name, epoch=self.breaker.epoch, open_seconds=self.breaker.open_seconds
            )


class Lease:
    """What one admitted attempt holds until it ends (see the module docstring)."""

    __slots__ = (
        "_account",
        "_admitted",
        "_closed",
        "_ended",
        "_gate",
        "_permit",
        "_reservation",
        "_sampled",
        "_tokens",
    )

    def __init__(
        self,
        gate: Gate,
        permit: Permit,
        tokens: int,
        account: BudgetAccount | None = None,
        reservation: Reservation | None = None,
    ) -> None:
        self._gate = gate
        self._permit = permit
        self._tokens = tokens
        self._account = account
        self._reservation = reservation
        # Durations feed what the slots learn; an endpoint without a concurrency limit learns nothing, and
        # its attempts read no clock (the hot path of the common, limit-free endpoint).
        self._admitted = gate._clock() if gate.slots.is_learning else 0.0
        self._sampled = not gate.slots.is_learning
        self._ended = False
        self._closed = False

    @property
    def ended(self) -> bool:
        return self._ended

    def _first_byte(self) -> None:
        if not self._sampled:
            self._sampled = True
            self._gate.slots.observe_first_byte(self._gate._clock() - self._admitted)

    def confirm(self) -> None:
        """The upstream's first event is good: the breaker hears success now (a probe closes a half-open
        circuit at once), while the lease keeps its slot until the stream has ended."""
        if self._ended:
            raise LeaseError("a lease that ended cannot be confirmed")
        self._first_byte()
        self._permit = self._gate.breaker.on_success(self._permit)

    def succeed(self, usage: Usage | None = None, signal: LimitSignal | None = None) -> None:
        """The upstream answered; the reservations become the usage it reported (when it did), and the
        budget's the cost of it (its worst case, when the upstream reported no usage)."""
        self._end()
        self._first_byte()
        gate = self._gate
        self._permit = gate.breaker.on_success(self._permit)
        if usage is not None:
            used = usage.prompt_tokens + usage.completion_tokens
            if used:
                gate.tokens.settle(self._tokens - used)
        if signal is not None:
            gate.shrink(signal)
        if self._account is not None and self._reservation is not None:
            actual = cost_pico(gate.config, usage) if usage is not None else self._reservation.pico
            self._account.settle(self._reservation, actual)

    def fail(
        self, failure: Failure, *, retry_after: float | None = None, signal: LimitSignal | None = None
    ) -> None:
        """The upstream failed; only an endpoint fault counts against the circuit."""
        self._end()
        gate = self._gate
        if is_endpoint_fault(failure):
            epoch = gate.breaker.epoch
            gate.breaker.on_failure(self._permit)
            gate._opened(epoch)
        else:
            gate.breaker.on_release(self._permit)
        if failure in PUSH_BACK:
            gate.slots.observe_push_back()
        if failure == Failure.RATE_LIMITED:
            gate.shrink(refusal_signal(retry_after, signal))
        self._release_budget()

    def abandon(self) -> None:
        """Ended by nobody's fault: no verdict on the endpoint."""
        self._end()
        self._gate.breaker.on_release(self._permit)
        self._release_budget()

    def _release_budget(self) -> None:
        if self._account is not None and self._reservation is not None:
            self._account.release(self._reservation)

    def close(self) -> None:
        """Give the concurrency slot back (idempotent); a lease closed without an ending is abandoned."""
        if self._closed:
            return
        if not self._ended:
            self.abandon()
        self._closed = True
        gate = self._gate
        if self._admitted:  # timed at admission (a reload may have given the endpoint a limit since)
            gate.slots.observe_hold(gate._clock() - self._admitted)
        gate.slots.give_back()

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
