"""Slots: who may take a slot at once (the whole limit with a queue, priority shares without one), who
gets a freed slot, and that the adaptive limit finds the knee whatever the priority of the traffic.
Time is a fake clock; the upstream is simulated."""

from __future__ import annotations

import asyncio

import pytest

from support.builders import endpoint_config
from support.clock import FakeClock
from switchboard_proxy.execution.slots import Slots
from switchboard_proxy.routing.request import Priority


def slots_for(**limits: object) -> tuple[Slots, FakeClock]:
    clock = FakeClock()
    return Slots(endpoint_config("e", limits=limits), clock=clock), clock


def taken_at_once(slots: Slots, priority: Priority) -> int:
    taken = 0
    while slots.try_take_now(priority):
        taken += 1
    return taken


@pytest.mark.parametrize(
    ("priority", "without_queue"),
    [
        pytest.param("critical", 10, id="critical"),
        pytest.param("standard", 8, id="standard"),
        pytest.param("sheddable", 6, id="sheddable"),
    ],
)
def test_with_a_queue_every_band_may_fill_the_limit_without_one_its_share(
    priority: Priority, without_queue: int
) -> None:
    queued, _ = slots_for(maxConcurrency=10, adaptiveConcurrency=False)
    assert taken_at_once(queued, priority) == 10
    unqueued, _ = slots_for(maxConcurrency=10, adaptiveConcurrency=False, maxQueue=0)
    assert taken_at_once(unqueued, priority) == without_queue


async def test_a_freed_slot_goes_to_the_most_important_waiter() -> None:
    slots, _ = slots_for(maxConcurrency=1, adaptiveConcurrency=False)
    assert slots.try_take_now("sheddable")
    deadline = asyncio.get_running_loop().time() + 60
    standard = asyncio.create_task(slots.take("standard", deadline=deadline))
    await asyncio.sleep(0)
    critical = asyncio.create_task(slots.take("critical", deadline=deadline))
    await asyncio.sleep(0)
    slots.give_back()
    assert await critical is None and not standard.done()
    slots.give_back()
    assert await standard is None


def settle(priority: Priority, *, capacity: int, base: float, windows: int = 400) -> int:
    """Demand beyond any limit, all of one priority, on an upstream that queues past `capacity` (latency =
    base x in flight / capacity); the limit after `windows` rounds of answers."""
    slots, clock = slots_for(maxConcurrency=200)
    for _ in range(windows):
        held = taken_at_once(slots, priority)
        latency = base * max(1.0, held / capacity)
        clock.advance(latency)
        for _ in range(held):
            slots.observe_first_byte(latency)
        for _ in range(held):
            slots.give_back()
    return slots.limit


@pytest.mark.parametrize("priority", ["critical", "standard", "sheddable"])
@pytest.mark.parametrize(("capacity", "base"), [(10, 0.1), (10, 0.2), (40, 0.05), (5, 1.0)])
def test_the_adaptive_limit_finds_the_knee_whatever_the_priority(
    priority: Priority, capacity: int, base: float
) -> None:
    # A share of the limit would hide the knee: standard traffic alone, held to 85% of the limit, would
    # see no-load latency until the limit stood 1/0.85 above it.
    assert 0.7 * capacity <= settle(priority, capacity=capacity, base=base) <= 1.3 * capacity
