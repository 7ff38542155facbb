"""plan(config, request, state, now, rng) -> Plan: the composed routing decision (SPEC section 6)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

import pytest
from routing_builders import AFTER_SUNSET, BEFORE_SUNSET, SUNSET, T0, attempts_of, plan_for

from support.builders import compile_config, endpoint, policy, route
from switchboard_proxy.config import RouterConfig
from switchboard_proxy.routing import Attempt, RouteRequest, RouterState
from switchboard_proxy.routing.eligibility import Rejection
from switchboard_proxy.routing.experiments import assign_variant
from switchboard_proxy.routing.matching import NoRoute
from switchboard_proxy.routing.state import EndpointState

SUNSET_TEXT = SUNSET.isoformat()

# Prices (input, output per MTok): c is the cheapest, d the dearest.
ENDPOINTS = [
    endpoint("a", pricing={"inputPerMTok": 1, "outputPerMTok": 1}),
    endpoint("b", pricing={"inputPerMTok": 2, "outputPerMTok": 2}),
    endpoint("c", pricing={"inputPerMTok": 0.5, "outputPerMTok": 0.5}),
    endpoint("d", pricing={"inputPerMTok": 3, "outputPerMTok": 3}),
    endpoint("new"),
    endpoint("old", deprecation={"sunset": SUNSET_TEXT, "replacement": "new"}),
    endpoint("older", deprecation={"sunset": SUNSET_TEXT, "replacement": "old"}),
]


def one_route(
    targets: list[dict[str, Any]],
    *,
    chain: list[str] | None = None,
    retries: int = 1,
    total_ms: int = 30_000,
    compile_at: datetime | None = None,
    **route_spec: Any,
) -> RouterConfig:
    """Route `r` (the default) over ENDPOINTS with policy `p` (chain, retries, total timeout)."""
    timeouts = {"connectMs": 1, "firstTokenMs": 1, "totalMs": total_ms}
    return compile_config(
        *ENDPOINTS,
        policy("p", chain=chain or [], retries={"attempts": retries}, timeouts=timeouts),
        route("r", default=True, targets=targets, fallbackPolicy="p", **route_spec),
        now=compile_at,
    )


def pool(*names: str) -> list[dict[str, Any]]:
    """A pool whose weighted order is fixed: the first gets all the weight, the others 0."""
    return [{"endpoint": name, "weight": 100 if i == 0 else 0} for i, name in enumerate(names)]


# --- attempts: retries expanded, chain after the pool ---------------------------------------------------


@pytest.mark.parametrize(
    ("targets", "chain", "retries", "expected"),
    [
        pytest.param(pool("a"), [], 0, [("a", "primary", 0)], id="single-no-retry"),
        pytest.param(
            pool("a"), [], 2, [("a", "primary", 0), ("a", "primary", 1), ("a", "primary", 2)], id="retries"
        ),
        pytest.param(
            pool("a"),
            ["b"],
            1,
            [("a", "primary", 0), ("a", "primary", 1), ("b", "fallback", 0), ("b", "fallback", 1)],
            id="chain-after-pool",
        ),
        pytest.param(
            pool("a", "b"),
            ["c"],
            0,
            [("a", "primary", 0), ("b", "primary", 0), ("c", "fallback", 0)],
            id="whole-pool-then-chain",
        ),
        pytest.param(
            pool("a", "b"),
            ["b", "c", "a"],
            0,
            [("a", "primary", 0), ("b", "primary", 0), ("c", "fallback", 0)],
            id="chain-entries-in-pool-dropped",
        ),
        pytest.param(
            pool("a"),
            ["d", "c"],
            0,
            [("a", "primary", 0), ("d", "fallback", 0), ("c", "fallback", 0)],
            id="chain-order-kept",
        ),
        pytest.param(
            pool("a"),
            ["old", "new"],
            0,
            [("a", "primary", 0), ("old", "fallback", 0), ("new", "fallback", 0)],
            id="deprecated-before-sunset-is-its-own-entry",
        ),
    ],
)
def test_attempts(
    targets: list[dict[str, Any]], chain: list[str], retries: int, expected: list[tuple[str, str, int]]
) -> None:
    decision = plan_for(one_route(targets, chain=chain, retries=retries))
    assert attempts_of(decision) == expected
    assert decision.rejections == ()
    assert decision.refusal == ""


def test_attempt_notes_for_explain() -> None:
    decision = plan_for(one_route(pool("a", "b"), chain=["c"], retries=1))
    assert decision.attempts == (
        Attempt("a", "primary", 0, 30_000, "pool #1 by weighted"),
        Attempt("a", "primary", 1, 30_000, "retry 1"),
        Attempt("b", "primary", 0, 30_000, "pool #2 by weighted"),
        Attempt("b", "primary", 1, 30_000, "retry 1"),
        Attempt("c", "fallback", 0, 30_000, "chain[0] of policy"),
        Attempt("c", "fallback", 1, 30_000, "retry 1"),
    )


@pytest.mark.parametrize(
    ("strategy", "note"),
    [
        pytest.param("lowest-latency", "pool #1 by lowest-latency", id="lowest-latency"),
        pytest.param("lowest-cost", "pool #1 by lowest-cost", id="lowest-cost"),
        pytest.param("least-loaded", "pool #1 by least-loaded", id="least-loaded"),
    ],
)
def test_pool_note_names_the_strategy(strategy: str, note: str) -> None:
    decision = plan_for(one_route(pool("a"), strategy=strategy))
    assert decision.attempts[0].note == note


@pytest.mark.parametrize(
    ("chain", "state"),
    [
        pytest.param(["b", "c"], {}, id="nothing-skipped"),
        pytest.param(["a", "c"], {}, id="first-chain-entry-is-in-the-pool"),
        pytest.param(["b", "c"], {"b": EndpointState(circuit="open")}, id="first-chain-entry-ineligible"),
    ],
)
def test_chain_note_names_the_policy_chain_entry(chain: list[str], state: dict[str, EndpointState]) -> None:
    # "chain[i] of policy" must point at the policy's chain entry that the attempt tries.
    decision = plan_for(one_route(pool("a"), chain=chain, retries=0), state=RouterState(endpoints=state))
    fallbacks = [a for a in decision.attempts if a.stage == "fallback"]
    assert fallbacks
    for attempt in fallbacks:
        index = decision.policy.chain.index(attempt.endpoint)
        assert attempt.note == f"chain[{index}] of policy", attempt


def test_plan_endpoints_are_distinct_in_attempt_order() -> None:
    decision = plan_for(one_route(pool("b", "a"), chain=["c", "d"], retries=2))
    assert len(decision.attempts) == 12
    assert decision.endpoints == ["b", "a", "c", "d"]


def test_plan_endpoints_of_an_empty_plan() -> None:
    state = RouterState(endpoints={"a": EndpointState(circuit="open")})
    assert plan_for(one_route(pool("a")), state=state).endpoints == []


def test_policy_is_the_variants() -> None:
    decision = plan_for(one_route(pool("a"), chain=["b"]))
    assert decision.policy is decision.variant.policy
    assert decision.policy.name == "p"


def test_route_without_policy_uses_the_built_in_default() -> None:
    config = compile_config(*ENDPOINTS, route("r", default=True, targets=pool("a", "b")))
    decision = plan_for(config)
    assert decision.policy.name == ""
    assert attempts_of(decision) == [
        ("a", "primary", 0),
        ("a", "primary", 1),
        ("b", "primary", 0),
        ("b", "primary", 1),
    ]
    assert {a.timeout_ms for a in decision.attempts} == {30_000}  # route deadline 30000 < default total 60000


def test_no_route_propagates() -> None:
    config = compile_config(*ENDPOINTS, route("r", targets=pool("a")))
    with pytest.raises(NoRoute):
        plan_for(config, RouteRequest(model="unknown"))


def test_match_reason_is_kept() -> None:
    assert (
        plan_for(one_route(pool("a")), RouteRequest(model="r")).match_reason == "model equals the route name"
    )


# --- eligibility inside the plan ------------------------------------------------------------------------


def test_ineligible_endpoints_are_rejected_not_planned() -> None:
    config = compile_config(
        *ENDPOINTS,
        endpoint("embed", capabilities=["embeddings"]),
        endpoint("small", contextWindow=100),
        policy("p", chain=["embed", "small", "c", "d"], retries={"attempts": 0}),
        route("r", default=True, targets=pool("a", "b"), fallbackPolicy="p"),
    )
    state = RouterState(
        endpoints={"b": EndpointState(circuit="open"), "d": EndpointState(limited="rate-limit")}
    )
    decision = plan_for(config, RouteRequest(prompt_tokens=500), state)
    assert attempts_of(decision) == [("a", "primary", 0), ("c", "fallback", 0)]
    assert [(r.endpoint, r.reason) for r in decision.rejections] == [
        ("b", "circuit-open"),
        ("embed", "protocol"),
        ("small", "context-window"),
        ("d", "rate-limit"),
    ]


def test_nothing_eligible_is_an_empty_plan_not_a_refusal() -> None:
    state = RouterState(endpoints={name: EndpointState(circuit="open") for name in "abc"})
    decision = plan_for(one_route(pool("a", "b"), chain=["c"]), state=state)
    assert decision.attempts == ()
    assert decision.refusal == ""
    assert {r.endpoint for r in decision.rejections} == {"a", "b", "c"}


# --- deprecation: a sunset takes effect at plan time ----------------------------------------------------


@pytest.mark.parametrize(
    ("targets", "chain", "now", "expected"),
    [
        pytest.param(pool("old"), [], BEFORE_SUNSET, [("old", "primary")], id="pool-before-sunset"),
        pytest.param(pool("old"), [], SUNSET, [("new", "primary")], id="pool-at-sunset"),
        pytest.param(pool("old"), [], AFTER_SUNSET, [("new", "primary")], id="pool-after-sunset"),
        pytest.param(
            pool("older"), [], AFTER_SUNSET, [("new", "primary")], id="replacement-of-a-replacement"
        ),
        pytest.param(pool("older"), [], BEFORE_SUNSET, [("older", "primary")], id="chained-before-sunset"),
        pytest.param(
            [{"endpoint": "old", "weight": 50}, {"endpoint": "new", "weight": 50}],
            [],
            AFTER_SUNSET,
            [("new", "primary")],
            id="replacement-already-in-pool-merged",
        ),
        pytest.param(
            pool("a"), ["old"], BEFORE_SUNSET, [("a", "primary"), ("old", "fallback")], id="chain-before"
        ),
        pytest.param(
            pool("a"), ["old"], AFTER_SUNSET, [("a", "primary"), ("new", "fallback")], id="chain-after"
        ),
        pytest.param(
            pool("new"), ["old"], AFTER_SUNSET, [("new", "primary")], id="chain-replacement-in-pool"
        ),
        pytest.param(
            pool("a"),
            ["old", "new"],
            AFTER_SUNSET,
            [("a", "primary"), ("new", "fallback")],
            id="chain-duplicate-after-replacement",
        ),
    ],
)
def test_sunset_replaces_endpoints_at_plan_time(
    targets: list[dict[str, Any]], chain: list[str], now: datetime, expected: list[tuple[str, str]]
) -> None:
    config = one_route(targets, chain=chain, retries=0)  # compiled with no sunset passed
    decision = plan_for(config, now=now)
    assert [(a.endpoint, a.stage) for a in decision.attempts] == expected


def test_merged_pool_weight_after_sunset() -> None:
    config = one_route([{"endpoint": "old", "weight": 70}, {"endpoint": "a", "weight": 30}], retries=0)
    firsts = [plan_for(config, now=AFTER_SUNSET, seed=seed).attempts[0].endpoint for seed in range(2000)]
    assert set(firsts) == {"new", "a"}
    assert abs(firsts.count("new") - 1400) <= 4 * math.sqrt(2000 * 0.7 * 0.3)


def test_compile_after_sunset_already_replaced() -> None:
    config = one_route(pool("old"), chain=["older"], compile_at=AFTER_SUNSET)
    assert [t.endpoint for t in config.routes["r"].variants[0].targets] == ["new"]
    assert plan_for(config, now=BEFORE_SUNSET).endpoints == ["new"]


@pytest.mark.parametrize(
    ("now", "shadow"),
    [
        pytest.param(BEFORE_SUNSET, "old", id="before-sunset"),
        pytest.param(AFTER_SUNSET, "new", id="after-sunset"),
    ],
)
def test_shadow_endpoint_past_its_sunset_is_replaced_at_plan_time(now: datetime, shadow: str) -> None:
    # compile() replaces a shadow endpoint whose sunset has passed (resolving.resolve_route); plan() must do
    # the same for a config compiled before the sunset, as it does for pools and chains.
    shadowed = {"endpoint": "old", "percent": 100}
    compiled_later = one_route(pool("a"), shadow=shadowed, compile_at=now).routes["r"].shadow
    assert compiled_later is not None
    assert compiled_later.endpoint == shadow  # what compile() does
    assert plan_for(one_route(pool("a"), shadow=shadowed), now=now).shadow == shadow


# --- budget ---------------------------------------------------------------------------------------------


def budget_route(
    action: str, targets: list[dict[str, Any]] | None = None, chain: list[str] | None = None
) -> RouterConfig:
    return one_route(
        targets or pool("a", "b"),
        chain=chain if chain is not None else ["c", "d"],
        retries=1,
        budget={"usd": 1, "window": "1h", "action": action},
    )


SPENT = RouterState(spent_routes=frozenset({"r"}))


def test_budget_not_spent_plans_normally() -> None:
    decision = plan_for(budget_route("reject"))
    assert decision.endpoints == ["a", "b", "c", "d"]
    assert decision.refusal == ""


def test_budget_spent_of_another_route_does_not_matter() -> None:
    decision = plan_for(budget_route("reject"), state=RouterState(spent_routes=frozenset({"other"})))
    assert decision.endpoints == ["a", "b", "c", "d"]


def test_budget_spent_reject_refuses_with_no_attempts() -> None:
    decision = plan_for(budget_route("reject"), state=SPENT)
    assert decision.attempts == ()
    assert decision.refusal == "budget-exhausted"
    assert decision.rejections == tuple(
        Rejection(n, "budget", "route budget spent") for n in ("a", "b", "c", "d")
    )


@pytest.mark.parametrize(
    ("targets", "chain", "state", "expected", "budget_rejected"),
    [
        pytest.param(
            pool("a", "b"), ["c", "d"], {}, ("c", "fallback"), ["a", "b", "d"], id="cheapest-in-chain"
        ),
        pytest.param(pool("c", "a"), ["d"], {}, ("c", "primary"), ["a", "d"], id="cheapest-in-pool"),
        pytest.param(
            pool("a", "b"),
            ["c", "d"],
            {"c": EndpointState(circuit="open")},
            ("a", "primary"),
            ["b", "d"],
            id="cheapest-eligible-only",
        ),
        pytest.param(pool("d"), [], {}, ("d", "primary"), [], id="only-one"),
    ],
)
def test_budget_spent_cheapest_keeps_the_single_cheapest_eligible(
    targets: list[dict[str, Any]],
    chain: list[str],
    state: dict[str, EndpointState],
    expected: tuple[str, str],
    budget_rejected: list[str],
) -> None:
    decision = plan_for(
        budget_route("cheapest", targets, chain),
        state=RouterState(endpoints=state, spent_routes=frozenset({"r"})),
    )
    name, stage = expected
    assert decision.attempts == (
        Attempt(name, stage, 0, 30_000, "cheapest (budget spent)"),
        Attempt(name, stage, 1, 30_000, "retry 1"),
    )
    assert decision.refusal == ""
    spent = [r for r in decision.rejections if r.reason == "budget"]
    assert [r.endpoint for r in spent] == budget_rejected
    assert all(r.detail == "route budget spent; cheapest only" for r in spent)


def test_budget_spent_on_a_route_without_budget_is_ignored() -> None:
    decision = plan_for(one_route(pool("a"), chain=["c"]), state=SPENT)
    assert decision.endpoints == ["a", "c"]
    assert decision.refusal == ""


# --- shadow ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("percent", "state", "shadow"),
    [
        pytest.param(0, {}, "", id="zero-percent"),
        pytest.param(100, {}, "d", id="hundred-percent"),
        pytest.param(100, {"d": EndpointState(circuit="open")}, "", id="open-circuit-not-mirrored"),
        pytest.param(100, {"d": EndpointState(circuit="half-open")}, "d", id="half-open-mirrored"),
    ],
)
def test_shadow(percent: float, state: dict[str, EndpointState], shadow: str) -> None:
    config = one_route(pool("a"), shadow={"endpoint": "d", "percent": percent})
    for seed in range(50):
        decision = plan_for(config, state=RouterState(endpoints=state), seed=seed)
        assert decision.shadow == shadow
        assert "d" not in decision.endpoints  # mirrored, never served


def test_no_shadow_configured() -> None:
    assert plan_for(one_route(pool("a"))).shadow == ""


def test_shadow_share_matches_percent() -> None:
    config = one_route(pool("a"), shadow={"endpoint": "d", "percent": 30})
    n = 4000
    mirrored = sum(plan_for(config, seed=seed).shadow == "d" for seed in range(n))
    assert abs(mirrored - 0.3 * n) <= 4 * math.sqrt(n * 0.3 * 0.7)


# --- deadline and priority ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "route_deadline", "total_ms", "deadline", "timeout"),
    [
        pytest.param(None, 800, 30_000, 800, 800, id="route-default"),
        pytest.param(500, 800, 30_000, 500, 500, id="header-shorter"),
        pytest.param(5000, 800, 30_000, 5000, 5000, id="header-longer-is-the-callers-budget"),
        pytest.param(None, 60_000, 30_000, 60_000, 30_000, id="attempt-timeout-below-deadline"),
        pytest.param(20_000, 60_000, 30_000, 20_000, 20_000, id="deadline-caps-attempt-timeout"),
    ],
)
def test_deadline(
    header: int | None, route_deadline: int, total_ms: int, deadline: int, timeout: int
) -> None:
    config = one_route(pool("a"), chain=["b"], total_ms=total_ms, deadlineMs=route_deadline)
    decision = plan_for(config, RouteRequest(deadline_ms=header))
    assert decision.deadline_ms == deadline
    assert {a.timeout_ms for a in decision.attempts} == {timeout}


@pytest.mark.parametrize(
    ("header", "planned"),
    [
        pytest.param(None, ["a", "b"], id="route-deadline-800-keeps-600ms-endpoint"),
        pytest.param(500, ["b"], id="header-deadline-500-skips-it"),
        pytest.param(600, ["a", "b"], id="exactly-the-deadline-kept"),
    ],
)
def test_deadline_filters_by_the_plans_deadline(header: int | None, planned: list[str]) -> None:
    config = one_route(pool("a"), chain=["b"], deadlineMs=800)
    state = RouterState(endpoints={"a": EndpointState(latency_ms=600)})
    decision = plan_for(config, RouteRequest(deadline_ms=header), state)
    assert decision.endpoints == planned


@pytest.mark.parametrize(
    ("route_priority", "hint", "priority"),
    [
        pytest.param("critical", None, "critical", id="route-priority"),
        pytest.param("critical", "sheddable", "sheddable", id="lowered"),
        pytest.param("standard", "critical", "standard", id="never-raised"),
        pytest.param("sheddable", "standard", "sheddable", id="sheddable-stays"),
    ],
)
def test_priority_only_lowered(route_priority: str, hint: Any, priority: str) -> None:
    decision = plan_for(one_route(pool("a"), priority=route_priority), RouteRequest(priority=hint))
    assert decision.priority == priority


# --- experiments ----------------------------------------------------------------------------------------


def experiment_config(sticky_by: str = "user") -> RouterConfig:
    return one_route(
        pool("a"),
        chain=["c"],
        experiment={
            "name": "exp",
            "stickyBy": sticky_by,
            "variants": [
                {"name": "control", "weight": 50},
                {"name": "candidate", "weight": 50, "targets": pool("b"), "strategy": "lowest-cost"},
            ],
        },
    )


def test_variant_brings_its_own_pool_and_strategy() -> None:
    config = experiment_config()
    seen = {}
    for i in range(200):
        decision = plan_for(config, RouteRequest(sticky_key=f"u{i}"))
        seen[decision.variant.name] = (decision.endpoints, decision.attempts[0].note)
    assert seen == {
        "control": (["a", "c"], "pool #1 by weighted"),
        "candidate": (["b", "c"], "pool #1 by lowest-cost"),
    }


def test_sticky_by_user_keeps_the_variant_across_requests_and_seeds() -> None:
    config = experiment_config("user")
    r = config.routes["r"]
    for i in range(100):
        key = f"user-{i}"
        variants = {
            plan_for(config, RouteRequest(sticky_key=key, request_id=f"req-{j}"), seed=j).variant.name
            for j in range(5)
        }
        assert variants == {assign_variant(r, key).name}


def test_sticky_by_user_without_a_key_uses_the_request_id() -> None:
    config = experiment_config("user")
    r = config.routes["r"]
    for i in range(100):
        decision = plan_for(config, RouteRequest(request_id=f"req-{i}"))
        assert decision.variant.name == assign_variant(r, f"req-{i}").name


def test_sticky_by_request_ignores_the_user() -> None:
    config = experiment_config("request")
    r = config.routes["r"]
    variants = set()
    for i in range(100):
        decision = plan_for(config, RouteRequest(sticky_key="same-user", request_id=f"req-{i}"))
        assert decision.variant.name == assign_variant(r, f"req-{i}").name
        variants.add(decision.variant.name)
    assert variants == {"control", "candidate"}


@pytest.mark.parametrize(
    ("stopped", "variants"),
    [
        pytest.param(set(), {"control", "candidate"}, id="none-stopped"),
        pytest.param({("r", "candidate")}, {"control"}, id="candidate-stopped"),
        pytest.param({("r", "control")}, {"candidate"}, id="control-stopped"),
        pytest.param({("other", "candidate")}, {"control", "candidate"}, id="other-routes-variant"),
    ],
)
def test_stopped_variants(stopped: set[tuple[str, str]], variants: set[str]) -> None:
    config = experiment_config()
    state = RouterState(stopped_variants=frozenset(stopped))
    seen = {plan_for(config, RouteRequest(sticky_key=f"u{i}"), state).variant.name for i in range(200)}
    assert seen == variants


def test_route_without_experiment_plans_the_default_variant() -> None:
    assert plan_for(one_route(pool("a"))).variant.name == "default"


# --- determinism ----------------------------------------------------------------------------------------


def test_same_inputs_same_seed_same_plan() -> None:
    config = one_route(
        [{"endpoint": n} for n in "abcd"], chain=["new"], shadow={"endpoint": "old", "percent": 50}
    )
    request = RouteRequest(sticky_key="u", request_id="r1")
    plans = [plan_for(config, request, seed=9) for _ in range(3)]
    assert plans[0] == plans[1] == plans[2]
    orders = {tuple(plan_for(config, request, seed=s).endpoints) for s in range(100)}
    assert len(orders) > 1  # the seed really drives the weighted order


# --- the examples ---------------------------------------------------------------------------------------


def test_examples_chat_with_tools_and_images_goes_to_the_vision_model(examples: RouterConfig) -> None:
    request = RouteRequest(needs=frozenset({"tools", "vision"}), prompt_tokens=1000)
    decision = plan_for(examples, request)
    assert (decision.route.name, decision.match_reason) == ("chat", "default route")
    assert attempts_of(decision) == [("frontier", "fallback", 0), ("frontier", "fallback", 1)]
    assert [(r.endpoint, r.reason, r.detail) for r in decision.rejections] == [
        ("capable", "capability", "lacks vision"),
        ("cheap", "capability", "lacks vision"),
    ]


def test_examples_tab_completion(examples: RouterConfig) -> None:
    decisions = [
        plan_for(
            examples,
            RouteRequest(task="tab", sticky_key=f"dev-{i}", stream=True, needs=frozenset({"streaming"})),
            seed=i,
        )
        for i in range(300)
    ]
    assert {d.route.name for d in decisions} == {"tab-completion"}
    assert {d.priority for d in decisions} == {"critical"}
    assert {d.deadline_ms for d in decisions} == {800}
    control = [d for d in decisions if d.variant.name == "control"]
    candidate = [d for d in decisions if d.variant.name == "candidate"]
    assert control and candidate
    # small-alt is both in the pool and the chain: planned once, as a primary; no retries (attempts: 0).
    assert {tuple(sorted(d.endpoints)) for d in control} == {("small-alt", "small-fast")}
    assert all(len(d.attempts) == 2 and {a.stage for a in d.attempts} == {"primary"} for d in control)
    assert {tuple(d.endpoints) for d in candidate} == {("small-fast-v2", "small-alt")}
    firsts = [d.attempts[0].endpoint for d in control]
    assert firsts.count("small-fast") > firsts.count("small-alt")  # 90/10


def test_examples_small_fast_sunset_moves_tab_traffic(examples: RouterConfig) -> None:
    after = datetime.fromisoformat("2027-03-01T00:00:00+00:00")
    for i in range(50):
        decision = plan_for(examples, RouteRequest(task="tab", sticky_key=f"dev-{i}"), now=after, seed=i)
        assert "small-fast" not in decision.endpoints
        assert "small-fast-v2" in decision.endpoints


def test_examples_anthropic_messages(examples: RouterConfig) -> None:
    decision = plan_for(examples, RouteRequest(api="messages", model="claude-sonnet-4-5"))
    assert decision.route.name == "claude"
    assert attempts_of(decision) == [
        ("claude-sonnet", "primary", 0),
        ("claude-sonnet", "primary", 1),
        ("claude-haiku", "fallback", 0),
        ("claude-haiku", "fallback", 1),
    ]


def test_examples_chat_api_uses_the_anthropic_route_through_translation(examples: RouterConfig) -> None:
    decision = plan_for(examples, RouteRequest(api="chat", model="claude-sonnet-4-5"))
    assert decision.attempts and not decision.rejections


def test_examples_completions_cannot_use_the_anthropic_route(examples: RouterConfig) -> None:
    decision = plan_for(examples, RouteRequest(api="completions", model="claude-sonnet-4-5"))
    assert decision.attempts == ()
    assert {r.reason for r in decision.rejections} == {"protocol"}


def test_examples_edit_is_lowest_latency_with_shadow(examples: RouterConfig) -> None:
    state = RouterState(
        endpoints={"capable": EndpointState(latency_ms=900), "frontier": EndpointState(latency_ms=400)}
    )
    decisions = [plan_for(examples, RouteRequest(task="edit"), state, seed=s) for s in range(400)]
    assert {tuple(d.endpoints) for d in decisions} == {("frontier", "capable")}
    mirrored = sum(d.shadow == "cheap" for d in decisions)
    assert 0 < mirrored < 60  # 5% of 400 = 20


def test_examples_plan_at_t0_has_no_refusal(examples: RouterConfig) -> None:
    for name in examples.routes:
        assert plan_for(examples, RouteRequest(route_header=name), now=T0).refusal == ""
