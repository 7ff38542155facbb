"""Admission leases under random interleavings (a hypothesis state machine over one endpoint's Gate).

Leases are admitted, succeed, fail, are abandoned (client gone, cancelled), race as hedges, are taken
as shadows, and the clock moves (the circuit opens, goes half-open, closes). Whatever the order:
- in half-open, never more than one probe is in flight, and only the probe's own ending frees its slot;
- when every lease has ended, nothing is held: no slot in flight, and the buckets hold exactly what
  the start held minus what the ended leases were charged (requests sent, tokens used or reserved);
- a refused admission changes nothing, neither another lease's probe nor a slot nor a token.

The buckets run on a clock of their own that never moves, so that what they hold can be counted
exactly; the breaker's clock moves.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from support.builders import endpoint, policy, resources, route
from support.clock import FakeClock
from switchboard_proxy.accounting.usage import Usage
from switchboard_proxy.config import compile
from switchboard_proxy.execution.breaker import CircuitBreaker
from switchboard_proxy.execution.buckets import RateLimit
from switchboard_proxy.execution.classify import Failure
from switchboard_proxy.execution.leasing import Gate, Lease, LeaseError

PRIORITIES = st.sampled_from(["critical", "standard", "sheddable"])
ENDINGS = st.one_of(
    st.tuples(st.just("succeed"), st.integers(0, 80)),  # usage reported (0: none)
    # A 429 shrinks the buckets on purpose (test_leasing covers it): not something a lease gives back.
    st.tuples(st.just("fail"), st.sampled_from([f for f in Failure if f != Failure.RATE_LIMITED])),
    st.tuples(st.sampled_from(["abandon", "cancel"]), st.none()),  # client gone; task cancelled
)
CONFIG = compile(
    resources(
        endpoint("e", limits={"maxConcurrency": 4, "requestsPerMinute": 60, "tokensPerMinute": 1500}),
        policy("p", circuitBreaker={"consecutiveFailures": 2, "openSeconds": 5}),
        route("r", ["e"], fallbackPolicy="p"),
    )
).endpoints["e"]


def make_gate() -> tuple[Gate, FakeClock]:
    """The endpoint's gate, its breaker on a moving clock and its buckets on one that never moves."""
    clock, frozen = FakeClock(), FakeClock()
    gate = Gate(CONFIG, clock=frozen)
    gate.breaker = CircuitBreaker(2, 5.0, clock=clock)
    gate.requests = RateLimit("r", CONFIG.requests_per_minute, capacity=CONFIG.requests_burst, clock=frozen)
    gate.tokens = RateLimit("t", CONFIG.tokens_per_minute, capacity=CONFIG.tokens_burst, clock=frozen)
    return gate, clock


@dataclass(eq=False)
class Held:
    lease: Lease | None  # None: the admission was refused (a bundle entry still)
    probe: bool
    reserved: int


class AdmissionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.gate, self.clock = make_gate()
        self.live: list[Held] = []
        self.start = self.holdings()
        self.charged_requests = 0
        self.charged_tokens = 0

    def teardown(self) -> None:
        self.loop.close()

    def holdings(self) -> tuple[float, float]:
        return self.gate.requests.available, self.gate.tokens.available

    def observed(self) -> tuple[Any, ...]:
        return (self.gate.breaker.is_probing, self.gate.inflight, self.holdings())

    def admit_one(self, priority: str, tokens: int) -> Held:
        probe = self.gate.breaker.state == "half-open"
        before = self.observed()
        admitted = self.loop.run_until_complete(
            self.gate.admit(priority=priority, deadline=0.0, tokens=tokens)  # type: ignore[arg-type]
        )
        if not isinstance(admitted, Lease):
            assert self.observed() == before, f"refused ({admitted}) and yet something changed"
            return Held(None, False, 0)
        held = Held(admitted, probe, tokens)
        self.live.append(held)
        self.charged_requests += 1
        self.charged_tokens += tokens
        return held

    def end(self, held: Held, how: str, detail: Any = None) -> None:
        if held.lease is None:
            return
        if how == "succeed":
            held.lease.succeed(Usage(detail, 0) if detail else None)
            if detail:
                self.charged_tokens += detail - held.reserved
        elif how == "fail":
            held.lease.fail(detail)
        elif how == "abandon":
            held.lease.abandon()
        # "cancel": closed without an ending, as `with lease:` does when the task is cancelled
        held.lease.close()
        held.lease.close()  # idempotent
        with pytest.raises(LeaseError):
            held.lease.abandon()  # a lease ends exactly once
        self.live.remove(held)
        held.lease = None

    def pick(self, index: int) -> Held:
        return self.live[index % len(self.live)]

    @rule(priority=PRIORITIES, tokens=st.integers(1, 60))
    def admit(self, priority: str, tokens: int) -> None:
        self.admit_one(priority, tokens)

    @precondition(lambda self: self.live)
    @rule(index=st.integers(0, 7), ending=ENDINGS)
    def end_one(self, index: int, ending: tuple[str, Any]) -> None:
        """A lease in flight ends: it succeeds (with some usage), fails, or its client leaves."""
        self.end(self.pick(index), *ending)

    @precondition(lambda self: self.gate.breaker.state == "closed")
    @rule(count=st.integers(1, 3))
    def outage(self, count: int) -> None:
        """Other requests fail in a row meanwhile (enough of them open the circuit)."""
        for _ in range(count):
            self.end(self.admit_one("critical", 1), "fail", Failure.SERVER_ERROR)

    @rule(priority=PRIORITIES, first_wins=st.booleans())
    def hedge(self, priority: str, first_wins: bool) -> None:
        first, second = self.admit_one(priority, 10), self.admit_one(priority, 10)
        winner, loser = (first, second) if first_wins else (second, first)
        self.end(loser, "abandon")
        self.end(winner, "succeed", 10)

    @rule(outcome=st.sampled_from(["succeed", "fail", "dropped"]))
    def shadow(self, outcome: str) -> None:
        held = self.admit_one("sheddable", 5)
        if outcome == "succeed":
            self.end(held, "succeed", 5)
        elif outcome == "fail":
            self.end(held, "fail", Failure.SERVER_ERROR)
        else:
            self.end(held, "abandon")

    @precondition(lambda self: self.gate.breaker.state == "open")
    @rule(seconds=st.sampled_from([1.0, 6.0]))
    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def at_most_one_probe(self) -> None:
        probes = [held for held in self.live if held.probe]
        assert len(probes) <= 1, f"{len(probes)} probes in flight in a half-open circuit"
        # ... and the breaker holds the probe slot exactly while that probe is in flight: nobody else
        # can free it, so no second probe can get in.
        assert self.gate.breaker.is_probing == bool(probes), "the probe slot is free while the probe runs"

    @invariant()
    def nothing_is_held_once_every_lease_ended(self) -> None:
        if self.live:
            return
        assert self.gate.inflight == 0
        requests, tokens = self.holdings()
        assert requests == self.start[0] - self.charged_requests
        assert tokens == pytest.approx(self.start[1] - self.charged_tokens)


AdmissionMachine.TestCase.settings = settings(max_examples=800, stateful_step_count=25, deadline=None)
TestAdmission = AdmissionMachine.TestCase
