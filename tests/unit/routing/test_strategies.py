"""Strategies `(request, candidates, state, rng) -> ordered candidates` and the weighted tie-break."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Any, get_args

import pytest

from support.builders import endpoint_config
from switchboard_proxy.config.pool_spec import Strategy
from switchboard_proxy.routing.request import RouteRequest
from switchboard_proxy.routing.state import EndpointState, RouterState
from switchboard_proxy.routing.strategies import (
    STRATEGIES,
    Candidate,
    estimated_cost_usd,
    least_loaded,
    lowest_cost,
    lowest_latency,
    weighted,
    weighted_order,
)

DRAWS = 20_000


def candidates(weights: dict[str, float], **specs: dict[str, Any]) -> list[Candidate]:
    return [
        Candidate(endpoint_config(name, **specs.get(name, {})), weight) for name, weight in weights.items()
    ]


def names(ordered: list[Candidate]) -> list[str]:
    return [c.name for c in ordered]


def within_bounds(observed: int, n: int, p: float) -> bool:
    """Binomial count within 4 standard deviations of its mean."""
    return abs(observed - n * p) <= 4 * math.sqrt(n * p * (1 - p))


def state_of(**endpoints: EndpointState) -> RouterState:
    return RouterState(endpoints=endpoints)


def test_strategies_cover_exactly_the_config_values() -> None:
    assert set(STRATEGIES) == set(get_args(Strategy))


# --- weighted -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weights",
    [
        pytest.param({"a": 60, "b": 30, "c": 10}, id="60-30-10"),
        pytest.param({"a": 90, "b": 10}, id="90-10"),
        pytest.param({"a": 33.333333, "b": 33.333333, "c": 33.333333}, id="equal-shares"),
        pytest.param({"a": 1, "b": 1, "c": 1, "d": 97}, id="skewed"),
    ],
)
def test_weighted_first_pick_frequencies(weights: dict[str, float]) -> None:
    pool = candidates(weights)
    rng = random.Random(7)
    firsts = Counter(weighted_order(pool, rng)[0].name for _ in range(DRAWS))
    total = sum(weights.values())
    for name, weight in weights.items():
        assert within_bounds(firsts[name], DRAWS, weight / total), (name, firsts)


def test_weighted_second_pick_is_drawn_among_the_rest() -> None:
    pool = candidates({"a": 50, "b": 30, "c": 20})
    rng = random.Random(11)
    orders = [names(weighted_order(pool, rng)) for _ in range(DRAWS)]
    after_a = Counter(o[1] for o in orders if o[0] == "a")
    n = sum(after_a.values())
    assert within_bounds(after_a["b"], n, 30 / 50)
    assert within_bounds(after_a["c"], n, 20 / 50)


@pytest.mark.parametrize(
    ("weights", "last"),
    [
        pytest.param({"z1": 0, "a": 50, "z2": 0, "b": 50}, ["z1", "z2"], id="zeros-last-in-pool-order"),
        pytest.param({"a": 100, "z": 0}, ["z"], id="one-zero"),
        pytest.param({"z": 0, "a": 100}, ["z"], id="zero-listed-first"),
        pytest.param({"z1": 0, "z2": 0, "z3": 0}, ["z1", "z2", "z3"], id="all-zero-keep-pool-order"),
    ],
)
def test_zero_weight_candidates_come_last(weights: dict[str, float], last: list[str]) -> None:
    pool = candidates(weights)
    for seed in range(300):
        ordered = names(weighted_order(pool, random.Random(seed)))
        assert ordered[len(ordered) - len(last) :] == last, seed


class ExtremeRandom(random.Random):
    """Always draws one fixed value (the extremes of [0, 1))."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize("value", [0.0, 1 - 2**-53], ids=["zero", "largest-below-one"])
def test_zero_weights_stay_last_at_the_extremes_of_the_rng(value: float) -> None:
    pool = candidates({"z1": 0, "a": 10, "z2": 0, "b": 20, "z3": 0})
    ordered = names(weighted_order(pool, ExtremeRandom(value)))
    assert sorted(ordered[:2]) == ["a", "b"]
    assert ordered[2:] == ["z1", "z2", "z3"]


def test_weighted_order_is_a_permutation_and_deterministic_per_seed() -> None:
    pool = candidates({"a": 10, "b": 20, "c": 30, "d": 40})
    for seed in range(50):
        first = names(weighted_order(pool, random.Random(seed)))
        assert sorted(first) == ["a", "b", "c", "d"]
        assert first == names(weighted_order(pool, random.Random(seed)))


def test_weighted_of_nothing_and_of_one() -> None:
    assert weighted_order([], random.Random(0)) == []
    only = candidates({"a": 0})
    assert weighted_order(only, random.Random(0)) == only


def test_weighted_strategy_ignores_live_state() -> None:
    pool = candidates({"a": 100, "b": 0})
    state = state_of(a=EndpointState(latency_ms=10_000, inflight=500))
    assert names(weighted(RouteRequest(), pool, state, random.Random(0))) == ["a", "b"]


# --- lowest latency -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("states", "stream", "order"),
    [
        pytest.param(
            {
                "a": EndpointState(latency_ms=300),
                "b": EndpointState(latency_ms=100),
                "c": EndpointState(latency_ms=200),
            },
            False,
            ["b", "c", "a"],
            id="ascending",
        ),
        pytest.param(
            {"a": EndpointState(latency_ms=300), "b": EndpointState(latency_ms=100)},
            False,
            ["c", "b", "a"],
            id="unmeasured-first",
        ),
        pytest.param(
            {
                "a": EndpointState(latency_ms=100, ttft_ms=500),
                "b": EndpointState(latency_ms=900, ttft_ms=50),
                "c": EndpointState(latency_ms=400, ttft_ms=200),
            },
            True,
            ["b", "c", "a"],
            id="stream-uses-ttft",
        ),
        pytest.param(
            {
                "a": EndpointState(latency_ms=100, ttft_ms=500),
                "b": EndpointState(latency_ms=900, ttft_ms=50),
                "c": EndpointState(latency_ms=400, ttft_ms=200),
            },
            False,
            ["a", "c", "b"],
            id="non-stream-uses-latency",
        ),
        pytest.param(
            {"a": EndpointState(latency_ms=100, ttft_ms=500), "b": EndpointState(latency_ms=300)},
            True,
            ["c", "b", "a"],
            id="stream-without-ttft-uses-latency",
        ),
    ],
)
def test_lowest_latency(states: dict[str, EndpointState], stream: bool, order: list[str]) -> None:
    pool = candidates({"a": 40, "b": 30, "c": 30})
    for seed in range(20):  # no ties: the rng must not matter
        ordered = lowest_latency(RouteRequest(stream=stream), pool, state_of(**states), random.Random(seed))
        assert names(ordered) == order


# --- lowest cost ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "max_tokens", "pricing", "cost"),
    [
        pytest.param(0, 0, {"inputPerMTok": 1, "outputPerMTok": 2}, 256 * 2 / 1e6, id="default-output-256"),
        pytest.param(1000, 100, {"inputPerMTok": 1, "outputPerMTok": 2}, (1000 + 200) / 1e6, id="priced"),
        pytest.param(10**6, 10**6, {"inputPerMTok": 3, "outputPerMTok": 15}, 18.0, id="one-million-each"),
        pytest.param(500, 500, {}, 0.0, id="free"),
    ],
)
def test_estimated_cost(prompt: int, max_tokens: int, pricing: dict[str, float], cost: float) -> None:
    request = RouteRequest(prompt_tokens=prompt, max_tokens=max_tokens)
    assert estimated_cost_usd(endpoint_config("e", pricing=pricing), request) == pytest.approx(cost)


@pytest.mark.parametrize(
    ("prompt", "max_tokens", "order"),
    [
        # a: cheap input, dear output; b: the opposite; c: in between on both.
        pytest.param(100_000, 10, ["a", "c", "b"], id="long-prompt-favours-cheap-input"),
        pytest.param(10, 100_000, ["b", "c", "a"], id="long-output-favours-cheap-output"),
    ],
)
def test_lowest_cost(prompt: int, max_tokens: int, order: list[str]) -> None:
    pool = candidates(
        {"a": 10, "b": 80, "c": 10},
        a={"pricing": {"inputPerMTok": 0.1, "outputPerMTok": 20}},
        b={"pricing": {"inputPerMTok": 5, "outputPerMTok": 0.5}},
        c={"pricing": {"inputPerMTok": 1, "outputPerMTok": 5}},
    )
    request = RouteRequest(prompt_tokens=prompt, max_tokens=max_tokens)
    for seed in range(20):
        assert names(lowest_cost(request, pool, RouterState(), random.Random(seed))) == order


# --- least loaded ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inflight", "order"),
    [
        pytest.param({"a": 10, "b": 5, "c": 0}, ["c", "a", "b"], id="relative-to-limit"),  # 0.1, 0.5, 0
        pytest.param({"a": 90, "b": 5, "c": 0}, ["c", "b", "a"], id="nearly-full-last"),  # 0.9, 0.5, 0
        pytest.param(
            {"a": 10, "b": 5, "c": 2}, ["a", "b", "c"], id="unlimited-counts-absolute"
        ),  # 0.1, 0.5, 2
        pytest.param({"a": 0, "b": 1}, ["a", "c", "b"], id="missing-state-is-idle"),  # 0, 0.1, 0 (tie a/c)
    ],
)
def test_least_loaded(inflight: dict[str, int], order: list[str]) -> None:
    pool = candidates(
        {"a": 100, "b": 0, "c": 0},  # weights make a win any tie
        a={"limits": {"maxConcurrency": 100}},
        b={"limits": {"maxConcurrency": 10}},
        c={},
    )
    state = state_of(**{name: EndpointState(inflight=n) for name, n in inflight.items()})
    for seed in range(20):
        assert names(least_loaded(RouteRequest(), pool, state, random.Random(seed))) == order


# --- ties -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "strategy",
    [
        pytest.param(lowest_latency, id="lowest-latency"),
        pytest.param(lowest_cost, id="lowest-cost"),
        pytest.param(least_loaded, id="least-loaded"),
    ],
)
def test_ties_are_broken_by_weight(strategy: Any) -> None:
    # Same (unknown) latency, same price, same load: only the weights tell them apart.
    pool = candidates({"a": 80, "b": 15, "c": 5})
    rng = random.Random(3)
    firsts = Counter(strategy(RouteRequest(), pool, RouterState(), rng)[0].name for _ in range(DRAWS))
    assert within_bounds(firsts["a"], DRAWS, 0.80)
    assert within_bounds(firsts["b"], DRAWS, 0.15)
    assert within_bounds(firsts["c"], DRAWS, 0.05)


def test_ties_among_the_slowest_are_broken_by_weight_too() -> None:
    pool = candidates({"fast": 1, "a": 70, "b": 29})
    state = state_of(
        fast=EndpointState(latency_ms=10), a=EndpointState(latency_ms=500), b=EndpointState(latency_ms=500)
    )
    rng = random.Random(5)
    seconds = Counter(lowest_latency(RouteRequest(), pool, state, rng)[1].name for _ in range(5000))
    assert within_bounds(seconds["a"], 5000, 70 / 99)
    assert seconds["a"] + seconds["b"] == 5000


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_returns_a_permutation_deterministic_per_seed(name: str) -> None:
    pool = candidates({"a": 10, "b": 0, "c": 60, "d": 30}, c={"limits": {"maxConcurrency": 4}})
    state = state_of(a=EndpointState(latency_ms=50, inflight=3), c=EndpointState(inflight=1))
    request = RouteRequest(prompt_tokens=100, max_tokens=10)
    for seed in range(30):
        ordered = STRATEGIES[name](request, pool, state, random.Random(seed))
        assert sorted(names(ordered)) == ["a", "b", "c", "d"]
        assert ordered == STRATEGIES[name](request, pool, state, random.Random(seed))
