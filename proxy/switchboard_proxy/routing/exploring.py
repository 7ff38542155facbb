"""`strategy: explore`: Thompson sampling over a route's targets, with a bounded share of exploration.

Each endpoint's quality (0..1) has a Beta posterior: the compiled prior (declared `qualityPrior` plus the
fleet evidence the operator folded in) plus this sidecar's own tallies since that config was loaded.
A candidate's reward is its quality minus `costWeight` x its normalised cost, the request's estimated
price on it divided by the price on the route's most expensive target. Cost is known, quality is not, so
only quality is sampled: one Beta draw per candidate, and the highest sampled reward serves.

When the draw picks an endpoint other than the posterior's best (highest mean reward), that is an
exploration; it goes ahead only with probability `maxExplorePercent`/100, else the best serves. So the
share of requests off the best stays under the bound whatever the posteriors, and once they separate,
Thompson sampling itself rarely picks another. The rest of the pool follows by mean reward, as fallbacks.
Pure: the random source is a parameter, and `Pick` says why, for `switchboard explain`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from switchboard_proxy.config import EndpointConfig
from switchboard_proxy.config.model import ExploreConfig

from .candidates import Candidate, estimated_cost_usd
from .request import RouteRequest

MIN_SHAPE = 1e-3  # Beta shapes must be positive; a prior of mean 0 or 1 still gets a proper draw


class Tally(NamedTuple):
    """Local evidence of one endpoint on one route: observations and the sum of their quality."""

    observations: float = 0.0
    quality_sum: float = 0.0


class Belief(NamedTuple):
    """Beta(alpha, beta) posterior of one endpoint's quality."""

    alpha: float
    beta: float

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)

    @property
    def weight(self) -> float:
        return self.alpha + self.beta

    def interval(self) -> tuple[float, float]:
        """An approximate 95% credible interval (normal approximation, clipped to 0..1)."""
        n = self.alpha + self.beta
        spread = 1.96 * math.sqrt(self.alpha * self.beta / (n * n * (n + 1)))
        return max(0.0, self.mean - spread), min(1.0, self.mean + spread)


class Beliefs(NamedTuple):
    """What one route's explore decision reads: settings, posteriors and the route's targets."""

    cost_weight: float
    max_explore_percent: float
    by_endpoint: Mapping[str, Belief]
    targets: tuple[EndpointConfig, ...]  # every target of the route, for the most expensive one


class Scored(NamedTuple):
    """One candidate's numbers in an explore decision."""

    endpoint: str
    belief: Belief
    cost: float  # normalised: 1 = the route's most expensive target for this request
    reward: float  # posterior mean quality - cost weight x cost
    sample: float  # sampled quality - cost weight x cost


class Pick(NamedTuple):
    """An explore decision: every candidate's numbers, the posterior's best and what served."""

    scored: tuple[Scored, ...]
    best: str
    chosen: str
    explored: bool


def beliefs_of(
    explore: ExploreConfig, tallies: Mapping[str, Tally], targets: Sequence[EndpointConfig]
) -> Beliefs:
    """Posteriors of a route's endpoints: compiled priors plus the sidecar's own tallies."""
    by_endpoint: dict[str, Belief] = {}
    for prior in explore.priors:
        seen = tallies.get(prior.endpoint, Tally())
        quality = prior.mean * prior.weight + seen.quality_sum
        doubt = (1 - prior.mean) * prior.weight + seen.observations - seen.quality_sum
        by_endpoint[prior.endpoint] = Belief(max(quality, MIN_SHAPE), max(doubt, MIN_SHAPE))
    return Beliefs(explore.cost_weight, explore.max_explore_percent, by_endpoint, tuple(targets))


UNKNOWN_BELIEF = Belief(1.0, 1.0)


def pick(
    beliefs: Beliefs, request: RouteRequest, candidates: Sequence[Candidate], rng: random.Random
) -> Pick:
    """Thompson sampling with the exploration bound (see the module docstring)."""
    ceiling = max((estimated_cost_usd(e, request) for e in beliefs.targets), default=0.0)
    scored = []
    for candidate in candidates:
        belief = beliefs.by_endpoint.get(candidate.name, UNKNOWN_BELIEF)
        cost = estimated_cost_usd(candidate.endpoint, request) / ceiling if ceiling > 0 else 0.0
        penalty = beliefs.cost_weight * cost
        sample = rng.betavariate(belief.alpha, belief.beta) - penalty
        scored.append(Scored(candidate.name, belief, cost, belief.mean - penalty, sample))
    best = max(scored, key=lambda s: s.reward).endpoint
    drawn = max(scored, key=lambda s: s.sample).endpoint
    explored = drawn != best and rng.random() * 100 < beliefs.max_explore_percent
    return Pick(tuple(scored), best, drawn if explored else best, explored)


def ordered_by_pick(candidates: Sequence[Candidate], chosen: Pick) -> list[Candidate]:
    """The chosen candidate first, then the rest by mean reward (the fallbacks)."""
    reward = {s.endpoint: s.reward for s in chosen.scored}
    rest = sorted((c for c in candidates if c.name != chosen.chosen), key=lambda c: -reward[c.name])
    return [c for c in candidates if c.name == chosen.chosen] + rest
