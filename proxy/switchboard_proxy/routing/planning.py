"""`plan(config, request, state, now, rng) -> Plan`: the whole routing decision for one request.

Composes the stages: match the route, assign the variant, replace endpoints past their sunset, filter the
primary pool and the fallback chain for eligibility, order the pool by the variant's strategy, and expand
retries into explicit attempts. The executor walks `Plan.attempts` in order; it may skip some (a spent
retry budget, a context-length error that needs a larger window) but never adds any.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime
from typing import Literal, NamedTuple

from switchboard_proxy.config import EndpointConfig, PolicyConfig, RouteConfig, RouterConfig, VariantConfig

from .eligibility import FilterContext, filter_eligible
from .experiments import assign_variant
from .layouts import build_layout, successor
from .matching import match_route
from .reasons import Reason, Rejection
from .request import Priority, RouteRequest, effective_priority
from .state import RouterState
from .strategies import STRATEGIES, Candidate, estimated_cost_usd

Stage = Literal["primary", "fallback"]
Refusal = Literal["", "budget-exhausted"]
Planned = tuple[EndpointConfig, Stage, str]  # endpoint, stage, why (before retries are expanded)


class Attempt(NamedTuple):
    """One try of one endpoint; `retry` 0 is the first try, 1.. are same-endpoint retries."""

    endpoint: str
    stage: Stage
    retry: int
    timeout_ms: int
    note: str


class Plan(NamedTuple):
    """The decision for one request: plain data, printable by `switchboard explain`."""

    route: RouteConfig
    variant: VariantConfig
    match_reason: str
    priority: Priority
    deadline_ms: int
    attempts: tuple[Attempt, ...]
    rejections: tuple[Rejection, ...]
    shadow: str = ""
    refusal: Refusal = ""

    @property
    def policy(self) -> PolicyConfig:
        return self.variant.policy

    @property
    def endpoints(self) -> list[str]:
        """Distinct endpoints in attempt order."""
        return list(dict.fromkeys(a.endpoint for a in self.attempts))


def plan(
    config: RouterConfig, request: RouteRequest, state: RouterState, *, now: datetime, rng: random.Random
) -> Plan:
    """Decide route, variant and ordered attempts. Raises matching.NoRoute when no route applies."""
    match = match_route(config, request)
    route = match.route
    variant = _variant(route, request, state)
    deadline_ms = request.deadline_ms if request.deadline_ms is not None else route.deadline_ms
    context = FilterContext(state=state, deadline_ms=deadline_ms)

    layout = state.layouts.of(route, variant, now) if state.layouts else build_layout(config, variant, now)
    pool: Sequence[Candidate] = layout.pool
    kept, rejections = filter_eligible(request, [c.endpoint for c in pool], context)
    if len(kept) < len(pool):
        kept_names = {e.name for e in kept}
        pool = [c for c in pool if c.name in kept_names]
    ordered = STRATEGIES[variant.strategy](request, pool, state, rng) if len(pool) > 1 else pool
    planned: list[Planned] = [
        (c.endpoint, "primary", f"pool #{i + 1} by {variant.strategy}") for i, c in enumerate(ordered)
    ]
    if layout.chain:
        chain_kept, chain_rejections = filter_eligible(request, layout.chain, context)
        planned += [(e, "fallback", f"chain[{layout.chain_index[e.name]}] of policy") for e in chain_kept]
        rejections += chain_rejections

    refusal: Refusal = ""
    if route.name in state.spent_routes and route.budget is not None:
        planned, refusal, spent = _apply_budget(route, planned, request)
        rejections += spent

    timeout_ms = min(variant.policy.total_ms, deadline_ms)
    retries = range(1 + variant.policy.retry_attempts)
    attempts = tuple(
        Attempt(endpoint.name, stage, retry, timeout_ms, f"retry {retry}" if retry else note)
        for endpoint, stage, note in planned
        for retry in retries
    )
    return Plan(
        route=route,
        variant=variant,
        match_reason=match.reason,
        priority=effective_priority(route.priority, request.priority),
        deadline_ms=deadline_ms,
        attempts=attempts,
        rejections=tuple(rejections),
        shadow=_shadow(config, route, state, now, rng) if route.shadow is not None else "",
        refusal=refusal,
    )


def _variant(route: RouteConfig, request: RouteRequest, state: RouterState) -> VariantConfig:
    if route.experiment is None:
        return route.variants[0]
    stopped = frozenset(v for r, v in state.stopped_variants if r == route.name)
    sticky = request.sticky_key if route.experiment.sticky_by == "user" else ""
    return assign_variant(route, sticky or request.request_id, stopped=stopped)


def _apply_budget(
    route: RouteConfig, planned: list[Planned], request: RouteRequest
) -> tuple[list[Planned], Refusal, list[Rejection]]:
    """A spent budget: 'reject' plans nothing; 'cheapest' keeps only the cheapest eligible endpoint."""
    assert route.budget is not None
    if not planned:
        return [], "", []  # nothing eligible anyway: the caller degrades as for any outage
    if route.budget.action == "reject":
        spent = [Rejection(e.name, Reason.BUDGET, "route budget spent") for e, _, _ in planned]
        return [], "budget-exhausted", spent
    cheapest = min(planned, key=lambda p: estimated_cost_usd(p[0], request))
    spent = [
        Rejection(e.name, Reason.BUDGET, "route budget spent; cheapest only")
        for e, _, _ in planned
        if e is not cheapest[0]
    ]
    return [(cheapest[0], cheapest[1], "cheapest (budget spent)")], "", spent


def _shadow(
    config: RouterConfig, route: RouteConfig, state: RouterState, now: datetime, rng: random.Random
) -> str:
    if route.shadow is None or route.shadow.percent <= 0:
        return ""
    endpoint = successor(config, route.shadow.endpoint, now)
    if state.of(endpoint).circuit == "open" or rng.random() * 100 >= route.shadow.percent:
        return ""
    return endpoint
