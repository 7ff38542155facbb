"""CircuitBreaker: closed -> open after N consecutive failures -> half-open single probe -> closed/open.

Time is a fake clock; nothing sleeps.
"""

from __future__ import annotations

from switchboard_proxy.execution.breaker import CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(failures: int = 3, open_seconds: float = 10.0) -> tuple[CircuitBreaker, FakeClock]:
    clock = FakeClock()
    return CircuitBreaker(failures, open_seconds, clock=clock), clock


def open_breaker(breaker: CircuitBreaker) -> None:
    for _ in range(breaker.consecutive_failures):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state == "open"


def test_starts_closed_and_lets_everything_through() -> None:
    breaker, _ = make()
    assert breaker.state == "closed"
    assert all(breaker.allow() for _ in range(100))


def test_opens_after_n_consecutive_failures_not_before() -> None:
    breaker, _ = make(failures=3)
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open"
    assert not breaker.allow()


def test_a_success_resets_the_consecutive_count() -> None:
    breaker, _ = make(failures=3)
    for _ in range(5):
        breaker.record_failure()
        breaker.record_failure()
        breaker.record_success()
    assert breaker.state == "closed"


def test_stays_open_for_open_seconds_then_half_open() -> None:
    breaker, clock = make(open_seconds=10)
    open_breaker(breaker)
    clock.advance(9.99)
    assert breaker.state == "open" and not breaker.allow()
    clock.advance(0.02)
    assert breaker.state == "half-open"


def test_half_open_allows_exactly_one_probe() -> None:
    breaker, clock = make()
    open_breaker(breaker)
    clock.advance(10)
    assert breaker.allow()
    assert not breaker.allow()
    assert not breaker.allow()
    assert breaker.state == "half-open"


def test_probe_success_closes_the_circuit() -> None:
    breaker, clock = make()
    open_breaker(breaker)
    clock.advance(10)
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed"
    assert all(breaker.allow() for _ in range(10))
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed"  # the count started again from zero


def test_probe_failure_reopens_for_a_full_period() -> None:
    breaker, clock = make(open_seconds=10)
    open_breaker(breaker)
    clock.advance(15)
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.advance(9.9)
    assert breaker.state == "open"
    clock.advance(0.2)
    assert breaker.state == "half-open" and breaker.allow()  # and a new probe slot


def test_release_frees_the_probe_slot_without_a_verdict() -> None:
    breaker, clock = make()
    open_breaker(breaker)
    clock.advance(10)
    assert breaker.allow()
    breaker.release()  # e.g. the client left, or a limit refused the probe
    assert breaker.state == "half-open"
    assert breaker.allow()
    assert not breaker.allow()


def test_release_while_closed_changes_nothing() -> None:
    breaker, _ = make(failures=2)
    breaker.record_failure()
    breaker.release()
    breaker.record_failure()
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
    breaker.record_failure()
    breaker.record_failure()
    breaker.configure(4, 10)
    breaker.record_failure()
    assert breaker.state == "closed"
    breaker.record_failure()
    assert breaker.state == "open"
