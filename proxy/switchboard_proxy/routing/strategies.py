"""Strategies order a primary pool's eligible endpoints; the first one serves, the rest are its fallbacks.

Each has the shape `(request, candidates, state, rng) -> ordered candidates`, and `STRATEGIES` maps the
config's names to them (a closed set: no plugin loading). Ties are broken by a weighted draw, so that
endpoints nobody has measured yet still get traffic (and so get measured).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from .candidates import Candidate, estimated_cost_usd
from .exploring import ordered_by_pick, pick
from .request import RouteRequest
from .state import RouterState

Strategy = Callable[[RouteRequest, Sequence[Candidate], RouterState, random.Random], list[Candidate]]


def weighted_order(candidates: Sequence[Candidate], rng: random.Random) -> list[Candidate]:
    """Weighted sampling without replacement: the first is drawn by weight, then the next among the rest."""
    remaining = list(candidates)
    ordered: list[Candidate] = []
    while remaining:
        total = sum(c.weight for c in remaining)
        if total <= 0:
            ordered.extend(remaining)  # only zero weights left: keep them as last-resort fallbacks
            break
        point = rng.random() * total
        for i, candidate in enumerate(remaining):
            point -= candidate.weight
            if point < 0 or i == len(remaining) - 1:
                ordered.append(remaining.pop(i))
                break
    return ordered


def weighted(
    request: RouteRequest, candidates: Sequence[Candidate], state: RouterState, rng: random.Random
) -> list[Candidate]:
    """By configured weight."""
    return weighted_order(candidates, rng)


def _sorted_by(
    key: Callable[[Candidate], float], candidates: Sequence[Candidate], rng: random.Random
) -> list[Candidate]:
    # A stable sort of a weighted-random order: equal keys keep their weighted tie-break.
    return sorted(weighted_order(candidates, rng), key=key)


def lowest_latency(
    request: RouteRequest, candidates: Sequence[Candidate], state: RouterState, rng: random.Random
) -> list[Candidate]:
    """Fastest measured first (time to first token for streams); unmeasured endpoints first of all."""
    return _sorted_by(lambda c: state.of(c.name).expected_ms(stream=request.stream), candidates, rng)


def lowest_cost(
    request: RouteRequest, candidates: Sequence[Candidate], state: RouterState, rng: random.Random
) -> list[Candidate]:
    """Cheapest expected price first."""
    return _sorted_by(lambda c: estimated_cost_usd(c.endpoint, request), candidates, rng)


def least_loaded(
    request: RouteRequest, candidates: Sequence[Candidate], state: RouterState, rng: random.Random
) -> list[Candidate]:
    """Fewest requests in flight relative to the endpoint's concurrency limit (absolute when unlimited)."""

    def load(candidate: Candidate) -> float:
        inflight = state.of(candidate.name).inflight
        limit = candidate.endpoint.max_concurrency
        return inflight / limit if limit else float(inflight)

    return _sorted_by(load, candidates, rng)


def explore(
    request: RouteRequest, candidates: Sequence[Candidate], state: RouterState, rng: random.Random
) -> list[Candidate]:
    """Thompson sampling over the route's posteriors (routing.exploring); by weight when it has none."""
    if state.beliefs is None:
        return weighted_order(candidates, rng)
    return ordered_by_pick(candidates, pick(state.beliefs, request, candidates, rng))


STRATEGIES: dict[str, Strategy] = {
    "weighted": weighted,
    "lowest-latency": lowest_latency,
    "lowest-cost": lowest_cost,
    "least-loaded": least_loaded,
    "explore": explore,
}

__all__ = ["STRATEGIES", "Candidate", "Strategy", "estimated_cost_usd", "weighted_order"]
