"""Gate.admit() and Lease: what an admission takes, how each ending gives it back, and what a refusal
leaves alone. Time is a fake clock; nothing sleeps."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from support.builders import endpoint, policy, resources, route
from support.clock import FakeClock
from switchboard_proxy.accounting.usage import Usage
from switchboard_proxy.config import compile
from switchboard_proxy.execution.classify import Failure
from switchboard_proxy.execution.leasing import Gate, Lease, LeaseError
from switchboard_proxy.execution.outcomes import Refusal
from switchboard_proxy.routing.reasons import Reason


def gate_for(**limits: Any) -> tuple[Gate, FakeClock]:
    config = compile(
        resources(
            endpoint("e", limits=limits),
            policy("p", circuitBreaker={"consecutiveFailures": 1, "openSeconds": 10}),
            route("r", ["e"], fallbackPolicy="p"),
        )
    )
    clock = FakeClock()
    return Gate(config.endpoints["e"], clock=clock), clock


def admit(gate: Gate, priority: str = "critical", tokens: int = 1) -> Lease | Refusal:
    return asyncio.run(gate.admit(priority=priority, deadline=0.0, tokens=tokens))  # type: ignore[arg-type]


def lease_of(gate: Gate, **options: Any) -> Lease:
    lease = admit(gate, **options)
    assert isinstance(lease, Lease), lease
    return lease


def test_a_lease_holds_a_slot_until_closed_once() -> None:
    gate, _ = gate_for(maxConcurrency=2)
    lease = lease_of(gate)
    assert gate.inflight == 1
    lease.succeed()
    assert gate.inflight == 1  # ending is not closing: a stream ends its lease before it lets go
    lease.close()
    lease.close()
    assert gate.inflight == 0


def test_a_lease_ends_exactly_once() -> None:
    gate, _ = gate_for()
    lease = lease_of(gate)
    lease.fail(Failure.TIMEOUT)
    for ending in (lease.succeed, lease.abandon, lambda: lease.fail(Failure.TIMEOUT), lease.confirm):
        with pytest.raises(LeaseError):
            ending()


def test_closing_without_an_ending_abandons() -> None:
    gate, clock = gate_for()
    with lease_of(gate) as lease:
        lease.fail(Failure.SERVER_ERROR)
    clock.advance(10)
    with pytest.raises(asyncio.CancelledError), lease_of(gate):  # the probe's task is cancelled
        raise asyncio.CancelledError
    assert gate.breaker.state == "half-open" and not gate.breaker.is_probing and gate.inflight == 0


@pytest.mark.parametrize(
    ("failure", "opens"),
    [
        pytest.param(Failure.SERVER_ERROR, True, id="server-error"),
        pytest.param(Failure.TIMEOUT, True, id="timeout"),
        pytest.param(Failure.CLIENT_ERROR, False, id="client-error"),
        pytest.param(Failure.CONTEXT_LENGTH, False, id="context-length"),
    ],
)
def test_only_endpoint_faults_count_against_the_circuit(failure: Failure, opens: bool) -> None:
    gate, _ = gate_for()
    with lease_of(gate) as lease:
        lease.fail(failure)
    assert (gate.breaker.state == "open") is opens


def test_a_confirmed_probe_closes_the_circuit_at_once() -> None:
    gate, clock = gate_for()
    with lease_of(gate) as lease:
        lease.fail(Failure.SERVER_ERROR)
    clock.advance(10)
    probe = lease_of(gate)
    assert admit(gate) == Refusal.CIRCUIT_OPEN  # the probe holds the half-open slot
    probe.confirm()  # a stream's first event was good
    assert gate.breaker.state == "closed"
    assert isinstance(admit(gate), Lease)  # traffic flows while the probe's stream goes on
    probe.fail(Failure.SERVER_ERROR)  # and then it breaks after all: a failure of the closed circuit
    assert gate.breaker.state == "open"


@pytest.mark.parametrize(
    ("limits", "priority", "refusal"),
    [
        pytest.param({"maxConcurrency": 1, "maxQueue": 0}, "critical", Refusal.CONCURRENCY, id="full"),
        pytest.param({"maxConcurrency": 2, "maxQueue": 0}, "sheddable", Refusal.SHED, id="shed"),
        pytest.param({"maxConcurrency": 1}, "critical", Refusal.DEADLINE, id="cannot-wait"),
        pytest.param({"requestsPerMinute": 1}, "critical", Refusal.RATE, id="requests"),
        pytest.param({"tokensPerMinute": 100}, "critical", Refusal.TOKEN_RATE, id="tokens"),
    ],
)
def test_a_refusal_gives_back_everything_it_took(
    limits: dict[str, int], priority: str, refusal: Refusal
) -> None:
    gate, _ = gate_for(**limits)
    held = lease_of(gate, tokens=60)
    before = (gate.inflight, gate.requests.available, gate.tokens.available, gate.breaker.is_probing)
    assert admit(gate, priority=priority, tokens=60) == refusal
    assert (gate.inflight, gate.requests.available, gate.tokens.available, gate.breaker.is_probing) == before
    held.close()


def test_a_refused_admission_in_half_open_leaves_the_probe_slot_free() -> None:
    gate, clock = gate_for(maxConcurrency=1)
    with lease_of(gate) as lease:
        lease.fail(Failure.SERVER_ERROR)
    clock.advance(10)
    with lease_of(gate) as probe:
        assert admit(gate) == Refusal.CIRCUIT_OPEN
        probe.abandon()  # the client left: the probe slot is free again
    assert gate.breaker.state == "half-open" and not gate.breaker.is_probing


def test_token_reservations_settle_to_the_reported_usage() -> None:
    gate, _ = gate_for(tokensPerMinute=1000)
    with lease_of(gate, tokens=300) as lease:
        assert gate.tokens.available == 700
        lease.succeed(Usage(prompt_tokens=40, completion_tokens=10))
    assert gate.tokens.available == 950
    with lease_of(gate, tokens=100) as lease:
        lease.succeed(Usage(prompt_tokens=400, completion_tokens=100))  # more than reserved: charged
    assert gate.tokens.available == 450
    with lease_of(gate, tokens=100) as lease:
        lease.fail(Failure.SERVER_ERROR)  # nobody knows what a failed call used: the reservation stays
    assert gate.tokens.available == 350


def test_limited_names_the_limit_that_refuses_everyone() -> None:
    gate, _ = gate_for(maxConcurrency=1, maxQueue=0, requestsPerMinute=2)
    assert gate.limited() is None
    held = lease_of(gate)
    assert gate.limited() == Reason.CONCURRENCY_LIMIT
    held.close()
    lease_of(gate).close()
    assert gate.limited() == Reason.RATE_LIMIT
