"""Session affinity (weighted rendezvous hashing), pure: 1,000 sessions over a pool of three endpoints
weighted 50/30/20 stick, split by the weights within statistical bounds, and an endpoint that leaves
the pool (ineligible, or removed from the config) moves only its own sessions; the plan says hit or moved."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pytest
from routing_builders import plan_for

from support.builders import compile_config, endpoint, route
from switchboard_proxy.routing import RouteRequest, RouterState
from switchboard_proxy.routing.affinity import affinity_order, home_of, score
from switchboard_proxy.routing.hints import build_route_request, conversation_key
from switchboard_proxy.routing.state import EndpointState
from switchboard_proxy.routing.strategies import Candidate

WEIGHTS = {"a": 50, "b": 30, "c": 20}
SESSIONS = [f"session-{n}" for n in range(1000)]


def config(weights: dict[str, int] = WEIGHTS, *, affinity: bool = True) -> Any:
    spec: dict[str, Any] = {"affinity": {"by": "session"}} if affinity else {}
    targets = [{"endpoint": name, "weight": weight} for name, weight in weights.items()]
    return compile_config(*(endpoint(n) for n in "abc"), route("r", default=True, targets=targets, **spec))


def first(decision: Any) -> str:
    return decision.attempts[0].endpoint


def homes(cfg: Any, state: RouterState | None = None, seed: int = 0) -> dict[str, str]:
    return {key: first(plan_for(cfg, RouteRequest(session_key=key), state, seed=seed)) for key in SESSIONS}


def test_sessions_stick_whatever_the_random_draw() -> None:
    cfg = config()
    assert homes(cfg, seed=1) == homes(cfg, seed=2) == homes(cfg, seed=3)


def test_sessions_split_by_the_weights_within_statistical_bounds() -> None:
    counts = Counter(homes(config()).values())
    # Each count is binomial(1000, p): within 4 standard deviations, and a chi-square of 2 degrees of
    # freedom below its 0.999 quantile (13.8).
    chi_square = 0.0
    for name, weight in WEIGHTS.items():
        expected = 1000 * weight / 100
        sigma = math.sqrt(1000 * weight / 100 * (1 - weight / 100))
        assert abs(counts[name] - expected) < 4 * sigma, counts
        chi_square += (counts[name] - expected) ** 2 / expected
    assert chi_square < 13.8, counts


def test_an_ineligible_endpoint_moves_only_its_sessions_and_the_plan_says_moved() -> None:
    cfg = config()
    before = homes(cfg)
    state = RouterState(endpoints={"c": EndpointState(circuit="open")})
    decisions = {key: plan_for(cfg, RouteRequest(session_key=key), state) for key in SESSIONS}
    for key, decision in decisions.items():
        if before[key] == "c":
            assert decision.affinity == "moved" and first(decision) != "c"
        else:
            assert decision.affinity == "hit" and first(decision) == before[key]
    # The moved sessions spread over the rest by their weights, as rendezvous hashing's runner-ups.
    moved = Counter(first(d) for d in decisions.values() if d.affinity == "moved")
    assert set(moved) == {"a", "b"} and moved["a"] > moved["b"]


def test_removing_an_endpoint_from_the_pool_moves_only_its_sessions() -> None:
    before = homes(config())
    # a removed: b and c keep their ratio (30:20 is 60:40) as the weights of a pool add up to 100.
    after = homes(config({"b": 60, "c": 40}))
    moved = {key for key in SESSIONS if before[key] != after[key]}
    assert moved == {key for key in SESSIONS if before[key] == "a"}
    assert 400 < len(moved) < 600


def test_the_failover_order_is_the_sessions_runner_ups_then_the_chain() -> None:
    pool = [
        Candidate(endpoint, weight)
        for endpoint, weight in zip(config().endpoints.values(), (50, 30, 20), strict=True)
    ]
    ordered, result = affinity_order("k", pool, pool)
    assert result == "hit" and ordered[0].name == home_of("k", pool)
    assert [c.name for c in ordered] == sorted("abc", key=lambda n: -score("k", n, WEIGHTS[n]))


def test_a_route_without_affinity_or_a_request_without_a_key_plans_as_before() -> None:
    assert plan_for(config(affinity=False), RouteRequest(session_key="k")).affinity == ""
    assert plan_for(config(), RouteRequest()).affinity == ""


def test_a_zero_weight_endpoint_is_nobodys_home() -> None:
    assert score("k", "a", 0) == 0.0
    counts = Counter(homes(config({"a": 100, "b": 0, "c": 0})).values())
    assert counts == {"a": 1000}


@pytest.mark.parametrize(
    ("api", "first_turn", "later_turn"),
    [
        pytest.param(
            "chat",
            {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q1"}]},
            {
                "messages": [
                    {"role": "system", "content": "S"},
                    {"role": "user", "content": "Q1"},
                    {"role": "assistant", "content": "A1"},
                    {"role": "user", "content": "Q2"},
                ]
            },
            id="chat",
        ),
        pytest.param(
            "messages",
            {"system": "S", "messages": [{"role": "user", "content": "Q1"}]},
            {
                "system": "S",
                "messages": [
                    {"role": "user", "content": "Q1"},
                    {"role": "assistant", "content": "A1"},
                    {"role": "user", "content": "Q2"},
                ],
            },
            id="messages",
        ),
        pytest.param(
            "responses",
            {"instructions": "S", "input": [{"role": "user", "content": "Q1"}]},
            {
                "instructions": "S",
                "input": [
                    {"role": "user", "content": "Q1"},
                    {"role": "assistant", "content": "A1"},
                    {"role": "user", "content": "Q2"},
                ],
            },
            id="responses",
        ),
    ],
)
def test_a_conversation_keeps_its_key_from_turn_to_turn(
    api: Any, first_turn: dict[str, Any], later_turn: dict[str, Any]
) -> None:
    key = conversation_key(api, first_turn)
    assert key.startswith("conversation:") and key == conversation_key(api, later_turn)
    other = {**first_turn, "system": "T"} if api == "messages" else None
    if other is not None:
        assert conversation_key(api, other) != key


def test_the_session_header_wins_and_the_conversation_is_hashed_only_when_asked() -> None:
    body = {"messages": [{"role": "user", "content": "Q1"}]}
    headers = {"X-Switchboard-Session": "s-1"}
    assert (
        build_route_request("chat", headers, body, request_id="r", session_fallback=True).session_key == "s-1"
    )
    assert build_route_request("chat", {}, body, request_id="r").session_key == ""
    assert build_route_request(
        "chat", {}, body, request_id="r", session_fallback=True
    ).session_key.startswith("conversation:")
