"""ConcurrencyLimit, TokenBucket and RetryBudget with a fake clock."""

from __future__ import annotations

import pytest

from support.clock import FakeClock
from switchboard_proxy.execution.limits import ConcurrencyLimit, RetryBudget, TokenBucket


def test_concurrency_limit_refuses_beyond_the_limit_and_frees_on_release() -> None:
    limit = ConcurrencyLimit(2)
    assert limit.try_acquire() and limit.try_acquire()
    assert limit.is_full and not limit.try_acquire()
    assert limit.inflight == 2
    limit.release_slot()
    assert not limit.is_full and limit.try_acquire()


def test_concurrency_limit_zero_is_unlimited() -> None:
    limit = ConcurrencyLimit(0)
    assert all(limit.try_acquire() for _ in range(10_000))
    assert not limit.is_full and limit.inflight == 10_000


def test_lowering_the_limit_below_inflight_refuses_until_enough_finish() -> None:
    limit = ConcurrencyLimit(5)
    for _ in range(4):
        limit.try_acquire()
    limit.limit = 2  # a reload
    assert not limit.try_acquire()
    limit.release_slot()
    limit.release_slot()
    assert not limit.try_acquire()
    limit.release_slot()
    assert limit.try_acquire()


def test_token_bucket_starts_full_and_empties() -> None:
    bucket = TokenBucket(60, clock=FakeClock())
    assert all(bucket.try_take() for _ in range(60))
    assert not bucket.try_take()
    assert bucket.is_empty


def test_token_bucket_refills_continuously_at_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock)  # one token per second
    while bucket.try_take():
        pass
    clock.now += 0.5
    assert not bucket.try_take()
    clock.now += 0.5
    assert bucket.try_take()
    assert not bucket.try_take()
    clock.now += 3
    assert [bucket.try_take() for _ in range(4)] == [True, True, True, False]


def test_token_bucket_bursts_at_most_one_minute_of_tokens() -> None:
    clock = FakeClock()
    bucket = TokenBucket(120, clock=clock)
    clock.now += 3600
    assert sum(bucket.try_take() for _ in range(500)) == 120


def test_token_bucket_takes_amounts() -> None:
    bucket = TokenBucket(10, clock=FakeClock())
    assert bucket.try_take(7)
    assert not bucket.try_take(4)
    assert bucket.try_take(3)


def test_token_bucket_zero_rate_is_unlimited() -> None:
    bucket = TokenBucket(0, clock=FakeClock())
    assert all(bucket.try_take() for _ in range(1000)) and not bucket.is_empty


def spend_all(budget: RetryBudget) -> int:
    spent = 0
    while budget.try_spend():
        spent += 1
        assert spent < 100_000
    return spent


def test_retry_budget_floor_lets_quiet_routes_retry() -> None:
    budget = RetryBudget(20, window_seconds=10, min_per_second=1.0, clock=FakeClock())
    assert spend_all(budget) == 10  # 1 per second over a 10 s window, with no traffic at all


@pytest.mark.parametrize(("percent", "requests", "expected"), [(20, 100, 30), (50, 40, 30), (10, 1000, 110)])
def test_retry_budget_is_a_percentage_of_recent_requests_plus_the_floor(
    percent: int, requests: int, expected: int
) -> None:
    budget = RetryBudget(percent, window_seconds=10, min_per_second=1.0, clock=FakeClock())
    for _ in range(requests):
        budget.record_request()
    assert spend_all(budget) == expected


def test_retry_budget_zero_percent_never_retries() -> None:
    budget = RetryBudget(0, clock=FakeClock())
    for _ in range(100):
        budget.record_request()
    assert not budget.try_spend()


def test_retry_budget_forgets_requests_older_than_the_window() -> None:
    clock = FakeClock(1000.0)
    budget = RetryBudget(100, window_seconds=10, min_per_second=0.0, clock=clock)
    for _ in range(5):
        budget.record_request()
    clock.now = 1009.9
    assert budget.try_spend()  # still inside the window
    clock.now = 1010.0
    assert not budget.try_spend()  # requests of second 1000 fell out of the window


def test_retry_budget_rolls_over_slot_by_slot() -> None:
    clock = FakeClock(2000.0)
    budget = RetryBudget(100, window_seconds=4, min_per_second=0.0, clock=clock)
    for _ in range(3):
        budget.record_request()  # second 2000
    clock.now = 2002.0
    budget.record_request()
    assert spend_all(budget) == 4  # retries of second 2002
    clock.now = 2004.0  # second 2000 leaves: 1 request left, but 4 retries still in the window
    assert spend_all(budget) == 0
    clock.now = 2006.0  # second 2002 leaves too: a clean window
    budget.record_request()
    budget.record_request()
    assert spend_all(budget) == 2


def test_retry_budget_after_a_long_pause_starts_fresh() -> None:
    clock = FakeClock()
    budget = RetryBudget(20, window_seconds=10, min_per_second=1.0, clock=clock)
    assert spend_all(budget) == 10
    clock.now += 1000
    assert spend_all(budget) == 10


def test_concurrency_is_shared_out_by_priority() -> None:
    from switchboard_proxy.execution.limits import ConcurrencyLimit

    limit = ConcurrencyLimit(10)
    taken = [limit.try_acquire("sheddable") for _ in range(10)]
    assert taken.count(True) == 6  # sheddable work stops at 60%
    assert [limit.try_acquire("standard") for _ in range(4)] == [True, True, False, False]  # 85%
    assert [limit.try_acquire("critical") for _ in range(3)] == [True, True, False]  # critical: all of it
    assert limit.is_full


def test_a_tiny_limit_still_admits_one_of_every_priority() -> None:
    from switchboard_proxy.execution.limits import ConcurrencyLimit

    assert ConcurrencyLimit(1).try_acquire("sheddable")
    assert ConcurrencyLimit(0).try_acquire("sheddable")  # unlimited
