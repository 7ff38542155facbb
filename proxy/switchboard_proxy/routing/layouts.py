"""`Layouts`: each variant's primary pool and fallback chain after replacements, worked out once per config.

Which endpoint serves a target depends on the config alone and on which sunsets have passed, so between
two sunsets every decision on one config sees the same pools and chains. `Layouts(config)` computes them
for every stretch of time between sunsets up front (a handful of sunsets at most, so a handful of copies)
and `of()` picks the stretch `now` falls in. The sidecar builds one with each `RoutingTable`; the planner
only reads it, and works a layout out on the spot when it is given none (`switchboard explain`, tests).
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from typing import NamedTuple

from switchboard_proxy.config import EndpointConfig, RouteConfig, RouterConfig, VariantConfig

from .plans import Attempt, Planned, expand
from .strategies import Candidate


class Layout(NamedTuple):
    """One variant's pool (weighted candidates) and its chain after the pool, with what explains them,
    and the attempts of the plan in which every endpoint is eligible, in this order, at the route's own
    deadline (what most requests get when the pool has one endpoint)."""

    pool: tuple[Candidate, ...]
    pool_endpoints: tuple[EndpointConfig, ...]
    pool_notes: tuple[str, ...]  # the note of the i-th endpoint of the pool in the strategy's order
    strategy: str
    chain: tuple[EndpointConfig, ...]
    chain_notes: dict[str, str]  # chain endpoint -> its note, e.g. "chain[1] of policy"
    attempts: tuple[Attempt, ...]


class Layouts:
    """Every variant's layout for every stretch of time between the config's sunsets."""

    def __init__(self, config: RouterConfig) -> None:
        self._sunsets = sorted({e.sunset for e in config.endpoints.values() if e.sunset is not None})
        # Whether any route keys sessions: only then does a request without X-Switchboard-Session pay for
        # hashing its conversation.
        self.has_affinity = any(route.affinity == "session" for route in config.routes.values())
        # Stretch k starts when the k-th sunset passes; stretch 0 is everything before the first one.
        starts: list[datetime | None] = [None, *self._sunsets]
        self._layouts = {
            (route.name, variant.name, stretch): build_layout(config, route, variant, start)
            for stretch, start in enumerate(starts)
            for route in config.routes.values()
            for variant in route.variants
        }

    def of(self, route: RouteConfig, variant: VariantConfig, now: datetime) -> Layout:
        return self._layouts[(route.name, variant.name, bisect_right(self._sunsets, now))]


def build_layout(
    config: RouterConfig, route: RouteConfig, variant: VariantConfig, now: datetime | None
) -> Layout:
    """The variant's layout at `now` (None: before every sunset)."""
    pool = _pool_candidates(config, variant, now)
    taken = {c.name for c in pool}
    chain: list[EndpointConfig] = []
    chain_notes: dict[str, str] = {}
    for index, name in enumerate(variant.policy.chain):
        resolved = successor(config, name, now)
        if resolved not in chain_notes and resolved not in taken:
            chain_notes[resolved] = f"chain[{index}] of policy"
            chain.append(config.endpoints[resolved])
    pool_notes = tuple(f"pool #{i + 1} by {variant.strategy}" for i in range(len(pool)))
    planned: list[Planned] = [(c.endpoint, "primary", note) for c, note in zip(pool, pool_notes, strict=True)]
    planned += [(e, "fallback", chain_notes[e.name]) for e in chain]
    timeout_ms = min(variant.policy.total_ms, route.deadline_ms)
    return Layout(
        tuple(pool),
        tuple(c.endpoint for c in pool),
        pool_notes,
        variant.strategy,
        tuple(chain),
        chain_notes,
        expand(planned, variant.policy, timeout_ms),
    )


def successor(config: RouterConfig, name: str, now: datetime | None) -> str:
    """The endpoint serving `name`'s traffic at `now`: its replacement once its sunset has passed.

    compile() already does this for sunsets passed at compile time; doing it here too makes a sunset take
    effect on time in a sidecar whose config was compiled before it.
    """
    endpoint = config.endpoints[name]
    if endpoint.sunset is None or now is None:
        return name
    seen = {name}
    while endpoint.sunset is not None and endpoint.sunset <= now and endpoint.replacement in config.endpoints:
        if endpoint.replacement in seen:
            break
        seen.add(endpoint.replacement)
        endpoint = config.endpoints[endpoint.replacement]
    return endpoint.name


def _pool_candidates(config: RouterConfig, variant: VariantConfig, now: datetime | None) -> list[Candidate]:
    weights: dict[str, float] = {}
    for target in variant.targets:
        name = successor(config, target.endpoint, now)
        weights[name] = weights.get(name, 0.0) + target.weight
    return [Candidate(config.endpoints[name], weight) for name, weight in weights.items()]
