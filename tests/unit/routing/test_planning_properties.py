"""Properties of plan() over random configs, requests and live states (hypothesis).

Configs are random resources compiled by the real `compile()`: endpoints with random protocols,
capabilities, windows, prices, limits and deprecations; policies with random chains and retries; one
default route with a random pool, strategy, policy, budget, shadow and experiment. The eligibility oracle
below is written independently of `routing.eligibility`, from SPEC section 6.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from routing_builders import AFTER_SUNSET, BEFORE_SUNSET, SUNSET, T0

from support.builders import compile_config, endpoint, policy, route
from switchboard_proxy.config import EndpointConfig, RouterConfig
from switchboard_proxy.routing import Plan, RouteRequest, RouterState, plan
from switchboard_proxy.routing.state import EndpointState
from switchboard_proxy.routing.strategies import estimated_cost_usd

PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])

CAPABILITIES = ["tools", "json", "streaming", "vision", "embeddings"]
SUNSETS = [SUNSET, SUNSET + timedelta(days=30)]
NOWS = [T0, BEFORE_SUNSET, SUNSET, AFTER_SUNSET, SUNSET + timedelta(days=60)]


@dataclass(frozen=True)
class Scenario:
    config: RouterConfig
    request: RouteRequest
    state: RouterState
    now: datetime
    seed: int

    def plan(self, seed: int | None = None, **request_changes: Any) -> Plan:
        request = self.request._replace(**request_changes) if request_changes else self.request
        rng = random.Random(self.seed if seed is None else seed)
        return plan(self.config, request, self.state, now=self.now, rng=rng)


def _weights(draw: st.DrawFn, k: int) -> list[int]:
    """k non-negative integers adding up to 100."""
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=k - 1, max_size=k - 1)))
    bounds = [0, *cuts, 100]
    return [bounds[i + 1] - bounds[i] for i in range(k)]


def _subset(draw: st.DrawFn, names: list[str], *, minimum: int = 0, maximum: int = 4) -> list[str]:
    """Distinct names in random order; sizes drawn evenly (hypothesis would favour tiny lists)."""
    size = draw(st.sampled_from(range(min(maximum, len(names)), minimum - 1, -1)))
    return draw(st.permutations(names))[:size]


def _pool(draw: st.DrawFn, names: list[str]) -> list[dict[str, Any]]:
    chosen = _subset(draw, names, minimum=1, maximum=3)
    if draw(st.booleans()):
        return [{"endpoint": n} for n in chosen]
    return [{"endpoint": n, "weight": w} for n, w in zip(chosen, _weights(draw, len(chosen)), strict=True)]


def _endpoints(draw: st.DrawFn, names: list[str], *, alike: bool) -> list[Any]:
    resources = []
    for i, name in enumerate(names):
        spec: dict[str, Any] = {
            "provider": "openai" if alike else draw(st.sampled_from(["openai", "azure-openai", "anthropic"])),
            "capabilities": CAPABILITIES
            if alike
            else draw(st.lists(st.sampled_from(CAPABILITIES), unique=True)),
            "contextWindow": draw(st.sampled_from([1000, 4000, 32768, 200_000])),
            "maxOutputTokens": draw(st.sampled_from([1, 1024, 4096, 8192, 64_000])),
            "pricing": {
                "inputPerMTok": draw(st.sampled_from([0, 0.05, 0.5, 1, 3])),
                "outputPerMTok": draw(st.sampled_from([0, 0.1, 2, 8, 15])),
            },
            "limits": {"maxConcurrency": draw(st.sampled_from([0, 4, 64]))},
        }
        # Replacements only point forward, so there is never a cycle.
        if i < len(names) - 1 and draw(st.integers(0, 2)) == 0:
            spec["deprecation"] = {
                "sunset": draw(st.sampled_from(SUNSETS)).isoformat(),
                "replacement": names[draw(st.integers(i + 1, len(names) - 1))],
            }
        resources.append(endpoint(name, **spec))
    return resources


def _policies(draw: st.DrawFn, names: list[str]) -> list[Any]:
    resources = []
    for i in range(draw(st.sampled_from([0, 1, 2, 2]))):
        total = draw(st.sampled_from([200, 1000, 30_000]))
        resources.append(
            policy(
                f"p{i}",
                chain=_subset(draw, names),
                retries={"attempts": draw(st.integers(0, 3))},
                timeouts={"connectMs": 1, "firstTokenMs": 1, "totalMs": total},
            )
        )
    return resources


def _route(draw: st.DrawFn, names: list[str], policy_names: list[str]) -> Any:
    maybe_policy = st.sampled_from([None, *policy_names, *policy_names])
    spec: dict[str, Any] = {
        "default": True,
        "targets": _pool(draw, names),
        "strategy": draw(st.sampled_from(["weighted", "lowest-latency", "lowest-cost", "least-loaded"])),
        "deadlineMs": draw(st.sampled_from([100, 500, 800, 30_000])),
        "priority": draw(st.sampled_from(["critical", "standard", "sheddable"])),
    }
    if (name := draw(maybe_policy)) is not None:
        spec["fallbackPolicy"] = name
    if draw(st.booleans()):
        spec["budget"] = {"usd": 1, "action": draw(st.sampled_from(["cheapest", "reject"]))}
    if draw(st.booleans()):
        spec["shadow"] = {
            "endpoint": draw(st.sampled_from(names)),
            "percent": draw(st.sampled_from([0, 5, 50, 100])),
        }
    if draw(st.booleans()):
        count = draw(st.integers(2, 3))
        variants = []
        for i, weight in enumerate(_weights(draw, count)):
            variant: dict[str, Any] = {"name": f"v{i}", "weight": weight}
            if draw(st.booleans()):
                variant["targets"] = _pool(draw, names)
            if (name := draw(maybe_policy)) is not None:
                variant["fallbackPolicy"] = name
            if draw(st.booleans()):
                variant["strategy"] = draw(st.sampled_from(["weighted", "lowest-latency", "lowest-cost"]))
            variants.append(variant)
        spec["experiment"] = {
            "name": "exp",
            "stickyBy": draw(st.sampled_from(["user", "request"])),
            "variants": variants,
        }
    return route("r", **spec)


def _request(draw: st.DrawFn, *, alike: bool) -> RouteRequest:
    stream = draw(st.booleans())
    needs = set(
        draw(st.lists(st.sampled_from(["tools", "json", "vision", "embeddings"]), unique=True, max_size=2))
    )
    if draw(st.booleans()):
        needs = set()
    return RouteRequest(
        api="chat" if alike else draw(st.sampled_from(["chat", "completions", "embeddings", "messages"])),
        prompt_tokens=draw(st.sampled_from([0, 100, 100, 900, 5000, 50_000])),
        max_tokens=draw(st.sampled_from([0, 0, 10, 300, 2000])),
        needs=frozenset(needs | ({"streaming"} if stream else set())),
        stream=stream,
        deadline_ms=draw(st.sampled_from([None, None, 50, 300, 1000, 60_000])),
        priority=draw(st.sampled_from([None, "critical", "standard", "sheddable"])),
        sticky_key=draw(st.sampled_from(["", "alice", "bob", "carol"])),
        request_id=draw(st.sampled_from(["req-1", "req-2", "req-3"])),
    )


def _state(draw: st.DrawFn, names: list[str]) -> RouterState:
    endpoints = {}
    for name in names:
        if draw(st.integers(0, 4)) == 0:
            continue  # unknown to the state: closed, idle, unmeasured
        endpoints[name] = EndpointState(
            circuit=draw(st.sampled_from(["closed", "closed", "closed", "half-open", "open"])),
            inflight=draw(st.integers(0, 100)),
            latency_ms=draw(st.sampled_from([0.0, 0.0, 50.0, 400.0, 2000.0])),
            ttft_ms=draw(st.sampled_from([0.0, 20.0, 300.0, 1500.0])),
            limited=draw(st.sampled_from(["", "", "", "", "concurrency-limit", "rate-limit"])),
        )
    return RouterState(
        endpoints=endpoints,
        spent_routes=frozenset(draw(st.sampled_from([(), (), ("r",)]))),
        stopped_variants=frozenset(
            ("r", v) for v in draw(st.lists(st.sampled_from(["v0", "v1", "v2"]), unique=True))
        ),
    )


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    names = [f"e{i}" for i in range(draw(st.sampled_from([5, 3, 4, 6, 7, 8, 1])))]
    # Half the scenarios: a fleet of alike OpenAI-compatible endpoints, so that eligibility turns on live
    # state, windows and deadlines, and plans are long; the other half mixes protocols and capabilities.
    alike = draw(st.booleans())
    policies = _policies(draw, names)
    now = draw(st.sampled_from(NOWS))
    compile_at = draw(st.sampled_from([None, now]))
    config = compile_config(
        *_endpoints(draw, names, alike=alike),
        *policies,
        _route(draw, names, [p["metadata"]["name"] for p in policies]),
        now=compile_at,
    )
    return Scenario(
        config, _request(draw, alike=alike), _state(draw, names), now, draw(st.integers(0, 2**32))
    )


# --- an independent oracle ------------------------------------------------------------------------------


def serving(config: RouterConfig, name: str, now: datetime) -> str:
    """The endpoint that serves `name`'s traffic at `now` (its replacement after its sunset)."""
    seen = [name]
    current = config.endpoints[name]
    while current.sunset is not None and now >= current.sunset and current.replacement not in seen:
        seen.append(current.replacement)
        current = config.endpoints[current.replacement]
    return current.name


def expected_latency(state: EndpointState, stream: bool) -> float:
    if stream and state.ttft_ms > 0:
        return state.ttft_ms
    return state.latency_ms


def refusal_reasons(e: EndpointConfig, request: RouteRequest, state: RouterState, deadline: int) -> list[str]:
    """Every eligibility rule `e` breaks (empty when eligible)."""
    live = state.endpoints.get(e.name, EndpointState())
    broken = []
    # Natively or translated (chat <-> messages, responses -> chat or messages).
    generative = {"chat", "messages", "responses"}
    apis = generative if e.provider == "anthropic" else generative | {"completions", "embeddings"}
    if "embeddings" in e.capabilities and not {"tools", "json", "streaming", "vision", "responses"} & set(
        e.capabilities
    ):
        apis &= {"embeddings"}  # an embedding model
    if request.api not in apis:
        broken.append("protocol")
    if not request.needs <= set(e.capabilities):
        broken.append("capability")
    if (
        request.prompt_tokens + request.max_tokens > e.context_window_tokens
        or request.max_tokens > e.max_output_tokens
    ):
        broken.append("window")
    if live.circuit == "open":
        broken.append("circuit")
    if live.limited:
        broken.append("limited")
    if expected_latency(live, request.stream) > deadline:
        broken.append("deadline")
    return broken


def candidates(s: Scenario, decision: Plan) -> tuple[list[str], list[str]]:
    """(pool, chain) of the planned variant at `now`, chain without pool members, in config order."""
    pool = list(dict.fromkeys(serving(s.config, t.endpoint, s.now) for t in decision.variant.targets))
    chain = [
        n for n in dict.fromkeys(serving(s.config, c, s.now) for c in decision.policy.chain) if n not in pool
    ]
    return pool, chain


def budget_spent(s: Scenario, decision: Plan) -> bool:
    return decision.route.name in s.state.spent_routes and decision.route.budget is not None


# --- properties -----------------------------------------------------------------------------------------


@PROPERTY
@given(scenarios())
def test_a_never_plans_an_ineligible_endpoint(s: Scenario) -> None:
    decision = s.plan()
    for name in decision.endpoints:
        reasons = refusal_reasons(s.config.endpoints[name], s.request, s.state, decision.deadline_ms)
        assert reasons == [], (name, reasons)


@PROPERTY
@given(scenarios())
def test_b_each_endpoint_appears_once_plus_its_retries_contiguously(s: Scenario) -> None:
    decision = s.plan()
    retries = decision.policy.retry_attempts
    names = [a.endpoint for a in decision.attempts]
    for name in set(names):
        positions = [i for i, n in enumerate(names) if n == name]
        assert len(positions) <= 1 + retries
        assert positions == list(range(positions[0], positions[0] + len(positions))), (name, names)
        assert [decision.attempts[i].retry for i in positions] == list(range(len(positions)))


@PROPERTY
@given(scenarios())
def test_c_never_plans_past_the_deadline(s: Scenario) -> None:
    decision = s.plan()
    route_deadline = decision.route.deadline_ms
    assert decision.deadline_ms == (
        s.request.deadline_ms if s.request.deadline_ms is not None else route_deadline
    )
    for attempt in decision.attempts:
        assert 0 < attempt.timeout_ms <= decision.deadline_ms
        assert attempt.timeout_ms <= decision.policy.total_ms
        live = s.state.endpoints.get(attempt.endpoint, EndpointState())
        assert expected_latency(live, s.request.stream) <= decision.deadline_ms


@PROPERTY
@given(scenarios())
def test_d_nothing_eligible_is_silently_dropped(s: Scenario) -> None:
    decision = s.plan()
    pool, chain = candidates(s, decision)
    eligible = [
        n
        for n in pool + chain
        if not refusal_reasons(s.config.endpoints[n], s.request, s.state, decision.deadline_ms)
    ]
    planned = decision.endpoints
    rejected = [r.endpoint for r in decision.rejections]
    # Every candidate is accounted for exactly once: planned, or rejected with a reason.
    assert sorted(planned + rejected) == sorted(pool + chain)
    if not budget_spent(s, decision):
        assert decision.refusal == ""
        primary = list(dict.fromkeys(a.endpoint for a in decision.attempts if a.stage == "primary"))
        fallback = list(dict.fromkeys(a.endpoint for a in decision.attempts if a.stage == "fallback"))
        # The pool's eligible endpoints (in strategy order) first, then the chain's in policy order.
        assert sorted(primary) == sorted(n for n in pool if n in eligible)
        assert fallback == [n for n in chain if n in eligible]
        assert planned == primary + fallback
    elif not eligible:
        # Nothing could serve anyway: an outage (503 or degraded), not a budget refusal (429).
        assert decision.attempts == ()
        assert decision.refusal == ""
    elif decision.route.budget is not None and decision.route.budget.action == "reject":
        assert decision.attempts == ()
        assert decision.refusal == "budget-exhausted"
    else:  # cheapest: exactly one endpoint, and none eligible is cheaper
        assert len(planned) == 1
        cost = {n: estimated_cost_usd(s.config.endpoints[n], s.request) for n in eligible}
        assert cost[planned[0]] == min(cost.values())


@PROPERTY
@given(scenarios())
def test_e_same_inputs_same_seed_same_plan(s: Scenario) -> None:
    assert s.plan() == s.plan()


@PROPERTY
@given(scenarios(), st.integers(0, 2**32), st.sampled_from(["req-7", "req-8"]))
def test_f_same_sticky_key_same_variant_whatever_the_rng(s: Scenario, other_seed: int, other_id: str) -> None:
    experiment = s.config.routes["r"].experiment
    first = s.plan()
    again = s.plan(seed=other_seed)
    assert again.variant == first.variant  # same key, other rng
    if experiment is not None and experiment.sticky_by == "user" and s.request.sticky_key:
        assert s.plan(seed=other_seed, request_id=other_id).variant == first.variant
    if experiment is None:
        assert first.variant.name == "default"
    stopped = {v for r, v in s.state.stopped_variants if r == "r"}
    running = [v.name for v in s.config.routes["r"].variants if v.name not in stopped]
    if running:
        assert first.variant.name in running  # a stopped variant never serves while another runs
