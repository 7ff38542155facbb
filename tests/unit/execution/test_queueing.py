"""The wait queue's order and bound, and the deadline arithmetic (pure)."""

from __future__ import annotations

import pytest

from switchboard_proxy.execution.queueing import (
    Waiter,
    WaitQueue,
    can_meet_deadline,
    expected_wait_seconds,
    give_up_at,
)


async def test_the_head_is_the_most_important_then_the_earliest_deadline() -> None:
    queue = WaitQueue(10)
    waiters = [
        Waiter("sheddable", 1.0, seq=1, enqueued=0),
        Waiter("standard", 9.0, seq=2, enqueued=0),
        Waiter("critical", 8.0, seq=3, enqueued=0),
        Waiter("critical", 5.0, seq=4, enqueued=0),
    ]
    for waiter in waiters:
        assert queue.push(waiter) is None
    order = []
    while (head := queue.head()) is not None:
        order.append(head.seq)
        queue.remove(head)
    assert order == [4, 3, 2, 1]


async def test_a_full_queue_turns_away_the_least_important() -> None:
    queue = WaitQueue(2)
    shed = Waiter("sheddable", 5.0, seq=1, enqueued=0)
    std = Waiter("standard", 5.0, seq=2, enqueued=0)
    queue.push(shed)
    queue.push(std)
    assert queue.push(Waiter("sheddable", 1.0, seq=3, enqueued=0)) is shed  # same band, earlier deadline
    newcomer = Waiter("sheddable", 9.0, seq=4, enqueued=0)
    assert queue.push(newcomer) is newcomer  # less important than everyone waiting: turned away
    critical = Waiter("critical", 9.0, seq=5, enqueued=0)
    evicted = queue.push(critical)
    assert evicted is not None and evicted.priority == "sheddable" and len(queue) == 2


async def test_lower_bands_are_outranked_once_higher_work_waits() -> None:
    queue = WaitQueue(4)
    queue.push(Waiter("standard", 5.0, seq=1, enqueued=0))
    assert queue.is_outranked("sheddable") and not queue.is_outranked("standard")
    assert not queue.is_outranked("critical") and queue.ahead_of("critical") == 0


@pytest.mark.parametrize(
    ("ahead", "slots", "hold", "wait"),
    [(0, 10, 0.2, 0.02), (9, 10, 0.2, 0.2), (49, 10, 0.2, 1.0), (3, 1, 1.0, 4.0)],
)
def test_the_expected_wait(ahead: int, slots: int, hold: float, wait: float) -> None:
    assert expected_wait_seconds(ahead, slots=slots, hold_seconds=hold) == pytest.approx(wait)


def test_a_waiter_gives_up_when_the_rest_of_its_deadline_is_its_service_time() -> None:
    assert can_meet_deadline(10.0, 11.0, wait_seconds=0.5, service_seconds=0.5)
    assert not can_meet_deadline(10.0, 11.0, wait_seconds=0.6, service_seconds=0.5)
    assert give_up_at(11.0, service_seconds=0.3) == pytest.approx(10.7)
