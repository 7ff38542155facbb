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

from switchboard_proxy.config import EndpointConfig, RouteConfig, RouterConfig, VariantConfig

from .affinity import affinity_order
from .eligibility import FilterContext, filter_eligible
from .experiments import assign_variant
from .exploring import Beliefs, Pick, beliefs_of, ordered_by_pick, pick
from .layouts import Layout, build_layout, successor
from .matching import match_route
from .plans import AffinityResult, Plan, Planned, Refusal, expand
from .reasons import Reason, Rejection
from .request import RouteRequest, effective_priority
from .state import RouterState
from .strategies import STRATEGIES, Candidate, estimated_cost_usd


def plan(
    config: RouterConfig, request: RouteRequest, state: RouterState, *, now: datetime, rng: random.Random
) -> Plan:
    """Decide route, variant and ordered attempts. Raises matching.NoRoute when no route applies."""
    match = match_route(config, request)
    route = match.route
    variant = _variant(route, request, state)
    deadline_ms = route.deadline_ms if request.deadline_ms is None else request.deadline_ms
    context = FilterContext(state=state, deadline_ms=deadline_ms)

    layout = (
        state.layouts.of(route, variant, now) if state.layouts else build_layout(config, route, variant, now)
    )
    kept, rejections = filter_eligible(request, layout.pool_endpoints, context)
    chain_kept, chain_rejections = (
        filter_eligible(request, layout.chain, context) if layout.chain else (layout.chain, [])
    )
    spent = route.budget is not None and route.name in state.spent_routes
    refusal: Refusal = ""
    affinity: AffinityResult = ""
    sessions = route.affinity == "session" and request.session_key != ""
    chosen: Pick | None = None
    if not (rejections or chain_rejections or spent) and len(kept) < 2 and deadline_ms == route.deadline_ms:
        # Everything eligible and nothing to order: the attempts the layout expanded once for this case.
        attempts = layout.attempts
        affinity = "hit" if sessions and kept else ""
    else:
        if layout.strategy == "explore" and route.explore is not None:
            state = state._replace(beliefs=explore_beliefs(route, layout, state))
        planned, affinity, chosen = _order(request, layout, kept, state, rng, sessions=sessions)
        planned += [(e, "fallback", layout.chain_notes[e.name]) for e in chain_kept]
        rejections += chain_rejections
        if spent:
            planned, refusal, refused = _apply_budget(route, planned, request)
            rejections += refused
        attempts = expand(planned, variant.policy, min(variant.policy.total_ms, deadline_ms))
    return Plan(
        route,
        variant,
        match.reason,
        effective_priority(route.priority, request.priority),
        deadline_ms,
        attempts,
        tuple(rejections),
        _shadow(config, route, state, now, rng) if route.shadow is not None else "",
        refusal,
        affinity,
        chosen,
    )


def _order(
    request: RouteRequest,
    layout: Layout,
    kept: list[EndpointConfig],
    state: RouterState,
    rng: random.Random,
    *,
    sessions: bool,
) -> tuple[list[Planned], AffinityResult, Pick | None]:
    """The eligible pool in the variant's strategy's order (or by the session's rendezvous scores on a
    route with affinity), each with why it is where it is (and, for strategy explore, the decision's
    posteriors)."""
    pool: Sequence[Candidate] = layout.pool
    if len(kept) < len(pool):
        kept_names = {e.name for e in kept}
        pool = [c for c in pool if c.name in kept_names]
    if sessions:
        by_session, affinity = affinity_order(request.session_key, layout.pool, pool)
        return [(c.endpoint, "primary", f"session {affinity}") for c in by_session], affinity, None
    chosen: Pick | None = None
    if len(pool) > 1 and state.beliefs is not None and layout.strategy == "explore":
        # What STRATEGIES["explore"] does, keeping the Pick for `switchboard explain`.
        chosen = pick(state.beliefs, request, pool, rng)
        ordered = ordered_by_pick(pool, chosen)
    else:
        ordered = STRATEGIES[layout.strategy](request, pool, state, rng) if len(pool) > 1 else list(pool)
    notes = layout.pool_notes
    if chosen is not None:
        why = "explored (sampled reward)" if chosen.explored else "posterior's best reward"
        notes = (f"{notes[0]}: {why}", *notes[1:])
    planned: list[Planned] = [(c.endpoint, "primary", note) for c, note in zip(ordered, notes, strict=False)]
    return planned, "", chosen


def explore_beliefs(route: RouteConfig, layout: Layout, state: RouterState) -> Beliefs:
    """The posteriors an explore decision on this route reads (compiled priors + local tallies)."""
    assert route.explore is not None
    return beliefs_of(route.explore, state.explore_tallies.get(route.name, {}), layout.pool_endpoints)


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
