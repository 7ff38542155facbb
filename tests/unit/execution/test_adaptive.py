"""The adaptive limit: the gradient's arithmetic, its bounds, and that it finds a queueing upstream's knee."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from switchboard_proxy.execution.adaptive import AdaptiveLimit, AdaptiveSettings, Window, next_limit

SETTINGS = AdaptiveSettings()


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        pytest.param(Window(0.1, 50, False), "grows", id="no-load-latency-busy"),
        pytest.param(Window(0.1, 10, False), "stays", id="no-load-latency-idle"),
        pytest.param(Window(0.3, 50, False), "shrinks", id="latency-tripled"),
        pytest.param(Window(0.1, 50, True), "shrinks", id="upstream-pushed-back"),
    ],
)
def test_the_gradient(window: Window, expected: str) -> None:
    limit = next_limit(50.0, ceiling=100, window=window, no_load_seconds=0.1, settings=SETTINGS)
    assert {"grows": limit > 50, "stays": limit == 50, "shrinks": limit < 50}[expected], limit


@given(
    limit=st.floats(1, 1000),
    ceiling=st.integers(1, 1000),
    mean=st.floats(0.001, 10),
    no_load=st.floats(0.001, 10),
    inflight=st.integers(0, 2000),
    pushed=st.booleans(),
)
def test_the_limit_stays_within_one_and_max_concurrency(
    limit: float, ceiling: int, mean: float, no_load: float, inflight: int, pushed: bool
) -> None:
    limit = min(limit, ceiling)
    window = Window(mean, inflight, pushed)
    new = next_limit(limit, ceiling=ceiling, window=window, no_load_seconds=no_load, settings=SETTINGS)
    assert 1.0 <= new <= ceiling
    if pushed or mean > SETTINGS.tolerance * no_load:
        assert new <= limit  # never grows while latency says the upstream is past its knee


def run_windows(limiter: AdaptiveLimit, capacity: int, base: float, *, windows: int, clock: float) -> float:
    """A saturated upstream that queues past `capacity` (latency = base x in flight / capacity) with more
    demand than any limit: `windows` windows of answers; returns the clock."""
    for _ in range(windows):
        inflight = limiter.limit
        latency = base * max(1.0, inflight / capacity)
        for _ in range(SETTINGS.window_samples):
            limiter.sample(latency, inflight=inflight, now=clock)
        # Answers arrive at inflight / latency per second: a window closes once it has its samples.
        clock += max(SETTINGS.window_seconds, latency * SETTINGS.window_samples / inflight)
        limiter.sample(latency, inflight=inflight, now=clock)
    return clock


def settle(capacity: int, base: float, *, ceiling: int = 200) -> float:
    limiter = AdaptiveLimit(ceiling, now=0.0)
    run_windows(limiter, capacity, base, windows=300, clock=0.0)
    return limiter.value


@given(capacity=st.integers(5, 150), base=st.floats(0.02, 2.0))
def test_it_settles_within_30_percent_of_the_upstreams_capacity(capacity: int, base: float) -> None:
    assert 0.7 * capacity <= settle(capacity, base) <= 1.3 * capacity


def test_it_backs_off_when_the_upstreams_knee_moves_down() -> None:
    limiter = AdaptiveLimit(100, now=0.0)
    clock = 0.0
    for capacity in (40, 10):
        clock = run_windows(limiter, capacity, 0.1, windows=300, clock=clock)
        assert 0.7 * capacity <= limiter.value <= 1.3 * capacity, (capacity, limiter.value)


def test_a_burst_of_429s_is_one_backoff_per_window() -> None:
    limiter = AdaptiveLimit(100, now=0.0)
    start = limiter.value
    for i in range(50):
        limiter.push_back(now=0.3 + i * 0.001)
    assert limiter.value == pytest.approx(start * 0.9)


def test_a_probe_counts_only_what_it_admitted_itself() -> None:
    # The probe window began at 0: answers admitted before it queued upstream behind the old backlog, so
    # even when they arrive with only a few in flight their latency is the loaded one.
    limiter = AdaptiveLimit(100, now=0.0)
    for i in range(5):
        limiter.sample(0.5, inflight=2, now=0.2 + i * 0.01)  # admitted at -0.3: before the probe
    for i in range(5):
        limiter.sample(0.1, inflight=2, now=0.3 + i * 0.01)  # admitted at 0.2 and after
    assert limiter.no_load_seconds == pytest.approx(0.1)
