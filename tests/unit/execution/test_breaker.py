"""CircuitBreaker: closed -> open after N consecutive failures -> half-open single probe -> closed/open.

Every request holds a permit; only the probe's permit moves a half-open circuit, and permits from before
the circuit last opened are stale. Time is a fake clock; nothing sleeps.
"""

from __future__ import annotations

from support.clock import FakeClock
from switchboard_proxy.execution.breaker import CircuitBreaker, Permit


def make(failures: int = 3, open_seconds: float = 10.0) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    return CircuitBreaker(failures, open_seconds, clock=clock), clock


def permit(breaker: CircuitBreaker) -> Permit:
    taken = breaker.acquire()
    assert taken is not None, f"the breaker refused while {breaker.state}"
    return taken


def open_breaker(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.consecutive_failures):
        breaker.on_failure(permit(breaker))
    assert breaker.state == "open"


def probe(breaker: CircuitBreaker, clock: FakeClock) -> Permit:
    open_breaker(breaker)
    clock.advance(breaker.open_seconds)
    taken = permit(breaker)
    assert taken.probe and breaker.is_probing
    return taken


def test_starts_closed_and_lets_everything_through() -> None:
    breaker, _ = make()
    assert breaker.state == "closed"
    permits = [breaker.acquire() for _ in range(100)]
    assert all(p is not None and not p.probe for p in permits)


def test_opens_after_n_consecutive_failures_not_before() -> None:
    breaker, _ = make(failures=3)
    breaker.on_failure(permit(breaker))
    breaker.on_failure(permit(breaker))
    assert breaker.state == "closed" and breaker.acquire() is not None
    breaker.on_failure(permit(breaker))
    assert breaker.state == "open"
    assert breaker.acquire() is None


def test_a_success_resets_the_consecutive_count() -> None:
    breaker, _ = make(failures=3)
    for _ in range(5):
        breaker.on_failure(permit(breaker))
        breaker.on_failure(permit(breaker))
        breaker.on_success(permit(breaker))
    assert breaker.state == "closed"


def test_stays_open_for_open_seconds_then_half_open() -> None:
    breaker, clock = make(open_seconds=10)
    open_breaker(breaker)
    clock.advance(9.99)
    assert breaker.state == "open" and breaker.acquire() is None
    clock.advance(0.02)
    assert breaker.state == "half-open"


def test_half_open_lets_exactly_one_probe_through() -> None:
    breaker, clock = make()
    probe(breaker, clock)
    assert breaker.acquire() is None
    assert breaker.acquire() is None
    assert breaker.state == "half-open"


def test_probe_success_closes_the_circuit() -> None:
    breaker, clock = make()
    after = breaker.on_success(probe(breaker, clock))
    assert breaker.state == "closed" and not breaker.is_probing and not after.probe
    assert all(breaker.acquire() is not None for _ in range(10))
    breaker.on_failure(permit(breaker))
    breaker.on_failure(permit(breaker))
    assert breaker.state == "closed"  # the count started again from zero


def test_probe_failure_reopens_for_a_full_period() -> None:
    breaker, clock = make(open_seconds=10)
    open_breaker(breaker)
    clock.advance(15)
    breaker.on_failure(permit(breaker))
    assert breaker.state == "open" and breaker.acquire() is None
    clock.advance(9.9)
    assert breaker.state == "open"
    clock.advance(0.2)
    assert breaker.state == "half-open" and permit(breaker).probe  # and a new probe slot


def test_release_of_the_probe_frees_its_slot_without_a_verdict() -> None:
    breaker, clock = make()
    breaker.on_release(probe(breaker, clock))  # e.g. the client left, or a limit refused the probe
    assert breaker.state == "half-open" and not breaker.is_probing
    assert permit(breaker).probe
    assert breaker.acquire() is None


def test_a_request_from_before_the_circuit_opened_cannot_free_the_probe() -> None:
    breaker, clock = make()
    old = permit(breaker)  # let through while closed, then the circuit opens under it
    probe(breaker, clock)
    breaker.on_release(old)  # it ends blameless: client gone, hedge lost
    assert breaker.is_probing and breaker.acquire() is None
    breaker.on_failure(old)  # or it fails: stale news, the probe decides
    assert breaker.state == "half-open" and breaker.is_probing
    breaker.on_success(old)
    assert breaker.state == "half-open" and breaker.is_probing


def test_a_stale_success_does_not_close_an_open_circuit() -> None:
    breaker, _ = make(failures=2)
    old = permit(breaker)
    open_breaker(breaker)
    breaker.on_success(old)
    assert breaker.state == "open"


def test_a_stream_confirmed_by_its_probe_can_still_fail_afterwards() -> None:
    breaker, clock = make(failures=1)
    later = breaker.on_success(probe(breaker, clock))  # the first event was good: closed
    assert breaker.state == "closed"
    breaker.on_failure(later)  # then the stream broke: one failure of the closed circuit
    assert breaker.state == "open"


def test_release_while_closed_changes_nothing() -> None:
    breaker, _ = make(failures=2)
    breaker.on_failure(permit(breaker))
    breaker.on_release(permit(breaker))
    breaker.on_failure(permit(breaker))
    assert breaker.state == "open"


def test_configure_keeps_the_state_and_applies_new_thresholds() -> None:
    breaker, clock = make(failures=3, open_seconds=30)
    open_breaker(breaker)
    breaker.configure(5, 2)
    assert breaker.state == "open"  # a reload does not forget an endpoint is down
    clock.advance(2)
    assert breaker.state == "half-open"  # but the new period applies to it


def test_configure_keeps_the_failure_count() -> None:
    breaker, _ = make(failures=3)
    breaker.on_failure(permit(breaker))
    breaker.on_failure(permit(breaker))
    breaker.configure(4, 10)
    breaker.on_failure(permit(breaker))
    assert breaker.state == "closed"
    breaker.on_failure(permit(breaker))
    assert breaker.state == "open"
