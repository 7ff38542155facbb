"""`strategy: explore`: posteriors from priors and tallies, cost-normalised rewards, the exploration bound,
and convergence on a simulated bandit (pure, seeded)."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from routing_builders import plan_for

from support.builders import compile_config, endpoint, route
from switchboard_proxy.config import RouterConfig
from switchboard_proxy.routing.candidates import Candidate
from switchboard_proxy.routing.exploring import Belief, Beliefs, Tally, beliefs_of, ordered_by_pick, pick
from switchboard_proxy.routing.request import RouteRequest
from switchboard_proxy.routing.state import RouterState

REQUEST = RouteRequest(prompt_tokens=1000, max_tokens=500)
# name -> (true quality, input $/Mtok, output $/Mtok)
ARMS = {"cheap": (0.55, 0.1, 0.2), "middle": (0.8, 1.0, 2.0), "frontier": (0.9, 10.0, 30.0)}


def explore_config(
    *, cost_weight: float = 0.2, percent: float = 10, priors: dict[str, dict[str, Any]] | None = None
) -> RouterConfig:
    docs = [
        endpoint(
            name,
            pricing={"inputPerMTok": price_in, "outputPerMTok": price_out},
            **({"qualityPrior": (priors or {})[name]} if name in (priors or {}) else {}),
        )
        for name, (_, price_in, price_out) in ARMS.items()
    ]
    explore = {"costWeight": cost_weight, "maxExplorePercent": percent}
    return compile_config(*docs, route("r", list(ARMS), strategy="explore", explore=explore, default=True))


def beliefs_for(config: RouterConfig, tallies: dict[str, Tally] | None = None) -> Beliefs:
    explore = config.routes["r"].explore
    assert explore is not None
    return beliefs_of(explore, tallies or {}, [config.endpoints[n] for n in ARMS])


def candidates_of(config: RouterConfig) -> list[Candidate]:
    return [Candidate(config.endpoints[n], 1.0) for n in ARMS]


def test_posterior_is_prior_plus_local_tallies() -> None:
    config = explore_config(priors={"middle": {"mean": 0.7, "weight": 10}})
    beliefs = beliefs_for(config, {"middle": Tally(observations=30, quality_sum=27)})
    middle = beliefs.by_endpoint["middle"]
    assert (middle.alpha, middle.beta) == pytest.approx((7 + 27, 3 + 3))
    assert beliefs.by_endpoint["cheap"] == Belief(1.0, 1.0)  # know-nothing prior, nothing seen


def test_cost_is_normalised_by_the_most_expensive_target() -> None:
    config = explore_config()
    chosen = pick(beliefs_for(config), REQUEST, candidates_of(config), random.Random(1))
    costs = {s.endpoint: s.cost for s in chosen.scored}
    assert costs["frontier"] == 1.0
    assert costs["middle"] == pytest.approx((1000 * 1.0 + 500 * 2.0) / (1000 * 10 + 500 * 30))


@pytest.mark.parametrize(
    ("cost_weight", "best"),
    [
        pytest.param(0.0, "frontier", id="quality-only"),
        pytest.param(0.2, "middle", id="cost-counts"),
        pytest.param(5.0, "cheap", id="cost-dominates"),
    ],
)
def test_the_best_is_the_highest_mean_reward(cost_weight: float, best: str) -> None:
    priors = {name: {"mean": quality, "weight": 10_000} for name, (quality, _, _) in ARMS.items()}
    config = explore_config(cost_weight=cost_weight, priors=priors)
    chosen = pick(beliefs_for(config), REQUEST, candidates_of(config), random.Random(3))
    assert chosen.best == best
    assert chosen.chosen == best and not chosen.explored  # posteriors this sure leave nothing to explore


@pytest.mark.parametrize("percent", [0, 5, 10, 30])
def test_exploration_stays_within_its_bound(percent: float) -> None:
    # Know-nothing posteriors: Thompson sampling alone would leave the best two times in three.
    config = explore_config(cost_weight=0.0, percent=percent)
    beliefs, pool, rng = beliefs_for(config), candidates_of(config), random.Random(7)
    draws = 4000
    explored = sum(pick(beliefs, REQUEST, pool, rng).explored for _ in range(draws))
    bound = percent / 100
    assert explored / draws <= bound + 3 * (bound * (1 - bound) / draws) ** 0.5
    if percent:
        assert explored > 0  # and it does explore


def test_fallbacks_follow_mean_reward() -> None:
    priors = {name: {"mean": quality, "weight": 10_000} for name, (quality, _, _) in ARMS.items()}
    config = explore_config(cost_weight=0.0, priors=priors)
    chosen = pick(beliefs_for(config), REQUEST, candidates_of(config), random.Random(0))
    assert [c.name for c in ordered_by_pick(candidates_of(config), chosen)] == ["frontier", "middle", "cheap"]


def test_the_planner_orders_an_explore_route_by_its_posteriors() -> None:
    priors = {name: {"mean": quality, "weight": 10_000} for name, (quality, _, _) in ARMS.items()}
    config = explore_config(cost_weight=0.2, priors=priors)
    decision = plan_for(config, REQUEST)
    assert decision.endpoints == ["middle", "frontier", "cheap"]


def test_local_tallies_move_the_planner() -> None:
    config = explore_config(cost_weight=0.0, percent=0)
    sure = {"cheap": Tally(500, 495), "middle": Tally(500, 5), "frontier": Tally(500, 5)}
    state = RouterState(explore_tallies={"r": sure})
    assert plan_for(config, REQUEST, state).endpoints[0] == "cheap"


def reward(name: str, cost_weight: float) -> float:
    quality, price_in, price_out = ARMS[name]
    most = max(1000 * i + 500 * o for _, i, o in ARMS.values())
    return quality - cost_weight * (1000 * price_in + 500 * price_out) / most


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_simulated_bandit_converges_on_the_best_reward(seed: int) -> None:
    """2,000 requests with Bernoulli quality: the last 500 go mostly to the best-reward endpoint."""
    cost_weight, percent = 0.2, 10
    config = explore_config(cost_weight=cost_weight, percent=percent)
    best = max(ARMS, key=lambda n: reward(n, cost_weight))
    pool, rng, world = candidates_of(config), random.Random(seed), random.Random(seed + 100)
    tallies: dict[str, Tally] = {}
    served: list[str] = []
    explored = 0
    for _ in range(2000):
        chosen = pick(beliefs_for(config, tallies), REQUEST, pool, rng)
        quality = float(world.random() < ARMS[chosen.chosen][0])
        seen = tallies.get(chosen.chosen, Tally())
        tallies[chosen.chosen] = Tally(seen.observations + 1, seen.quality_sum + quality)
        served.append(chosen.chosen)
        explored += chosen.explored
    last = Counter(served[-500:])
    assert last[best] / 500 >= 0.8, last
    assert explored / 2000 <= percent / 100
