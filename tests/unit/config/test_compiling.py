"""compile(): defaults once, references resolved, sunsets applied, conflicts settled, content version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from support.builders import endpoint, policy, resources, route
from switchboard_proxy.config import (
    ConfigError,
    RouterConfig,
    compile,
    compile_leniently,
    parse_router_config,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_defaults_are_applied_once_and_every_field_is_set() -> None:
    config = compile(resources(endpoint("a"), route("r", ["a"], default=True)))
    ep = config.endpoints["a"]
    assert (ep.provider, ep.context_window_tokens, ep.max_output_tokens) == ("openai", 32768, 4096)
    assert ep.capabilities == ("json", "streaming", "tools")
    assert ep.api_key.source == "none"
    route_config = config.routes["r"]
    assert (route_config.priority, route_config.deadline_ms) == ("standard", 30_000)
    (variant,) = route_config.variants
    assert variant.name == "default" and variant.weight == 100 and variant.strategy == "weighted"
    assert variant.policy.name == "" and variant.policy.chain == ()
    assert (variant.policy.connect_ms, variant.policy.first_token_ms, variant.policy.total_ms) == (
        1000,
        10_000,
        60_000,
    )
    assert variant.policy.degraded.mode == "error"
    assert config.default_route == "r"


def test_equal_shares_when_no_weights() -> None:
    config = compile(resources(endpoint("a"), endpoint("b"), endpoint("c"), route("r", ["a", "b", "c"])))
    weights = [t.weight for t in config.routes["r"].variants[0].targets]
    assert weights == pytest.approx([100 / 3] * 3)


def test_json_round_trip_is_exact() -> None:
    config = compile(
        resources(
            endpoint(
                "a",
                apiKey={"env": "A_KEY"},
                deprecation={"sunset": "2030-01-01T00:00:00Z", "replacement": "b"},
            ),
            endpoint("b", apiKey={"secretRef": {"name": "s", "key": "k"}}),
            policy("p", chain=["b"], hedge={"afterMs": 100}, degraded={"mode": "static", "body": {"x": [1]}}),
            route(
                "r", ["a"], fallbackPolicy="p", budget={"usd": 5, "window": "15m"}, shadow={"endpoint": "b"}
            ),
        )
    )
    again = parse_router_config(config.model_dump_json())
    assert again == config and isinstance(again, RouterConfig)


def test_keys_are_referenced_never_copied() -> None:
    config = compile(
        resources(
            endpoint("a", apiKey={"env": "A_KEY"}),
            endpoint("b", apiKey={"secretRef": {"name": "openai", "key": "api-key"}}),
            route("r", ["a", "b"]),
        )
    )
    assert config.endpoints["a"].api_key.model_dump() == {"source": "env", "name": "A_KEY"}
    # A Secret's key becomes a file named after the endpoint in Secret switchboard-credentials.
    assert config.endpoints["b"].api_key.model_dump() == {"source": "file", "name": "b"}


def test_version_is_a_content_hash() -> None:
    build = lambda weight: resources(  # noqa: E731
        endpoint("a"),
        endpoint("b"),
        route("r", [{"endpoint": "a", "weight": weight}, {"endpoint": "b", "weight": 100 - weight}]),
    )
    assert compile(build(90)).version == compile(build(90)).version
    assert compile(build(90)).version != compile(build(80)).version
    assert len(compile(build(90)).version) == 16


def test_version_ignores_resource_order() -> None:
    items = [endpoint("a"), endpoint("b"), route("r1", ["a"]), route("r2", ["b"])]
    assert compile(resources(*items)).version == compile(resources(*reversed(items))).version


@pytest.mark.parametrize(
    ("now", "expected_pool", "expected_chain"),
    [
        pytest.param(None, ["old"], ("old",), id="no-clock-no-sunset"),
        pytest.param(T0 - timedelta(seconds=1), ["old"], ("old",), id="before-sunset"),
        pytest.param(T0, ["new"], ("new",), id="at-sunset"),
        pytest.param(T0 + timedelta(days=30), ["new"], ("new",), id="after-sunset"),
    ],
)
def test_sunset_moves_traffic_to_the_replacement(
    now: datetime | None, expected_pool: list[str], expected_chain: tuple[str, ...]
) -> None:
    config = compile(
        resources(
            endpoint("old", deprecation={"sunset": T0.isoformat(), "replacement": "new"}),
            endpoint("new"),
            policy("p", chain=["old"]),
            route("r", ["old"], fallbackPolicy="p"),
        ),
        now=now,
    )
    variant = config.routes["r"].variants[0]
    assert [t.endpoint for t in variant.targets] == expected_pool
    assert variant.policy.chain == expected_chain
    assert config.endpoints["old"].deprecated and config.endpoints["old"].replacement == "new"


def test_replacement_chains_are_followed_and_pools_merged() -> None:
    config = compile(
        resources(
            endpoint("v1", deprecation={"sunset": T0.isoformat(), "replacement": "v2"}),
            endpoint("v2", deprecation={"sunset": T0.isoformat(), "replacement": "v3"}),
            endpoint("v3"),
            route("r", [{"endpoint": "v1", "weight": 30}, {"endpoint": "v3", "weight": 70}]),
        ),
        now=T0,
    )
    (target,) = config.routes["r"].variants[0].targets
    assert (target.endpoint, target.weight) == ("v3", 100)


def test_breaker_takes_the_most_protective_policy() -> None:
    config = compile(
        resources(
            endpoint("shared"),
            endpoint("other"),
            policy("lenient", circuitBreaker={"consecutiveFailures": 10, "openSeconds": 5}),
            policy("strict", chain=["shared"], circuitBreaker={"consecutiveFailures": 2, "openSeconds": 60}),
            route("r1", ["shared"], fallbackPolicy="lenient"),
            route("r2", ["other"], fallbackPolicy="strict"),
        )
    )
    assert config.endpoints["shared"].breaker.model_dump() == {"consecutive_failures": 2, "open_seconds": 60}
    assert config.endpoints["other"].breaker.model_dump() == {"consecutive_failures": 2, "open_seconds": 60}


def test_experiment_variants_inherit_and_override() -> None:
    config = compile(
        resources(
            endpoint("a"),
            endpoint("b"),
            policy("p"),
            policy("q"),
            route(
                "r",
                ["a"],
                fallbackPolicy="p",
                strategy="lowest-cost",
                experiment={
                    "name": "exp",
                    "variants": [
                        {"name": "control", "weight": 70},
                        {
                            "name": "candidate",
                            "weight": 30,
                            "targets": [{"endpoint": "b"}],
                            "fallbackPolicy": "q",
                            "strategy": "least-loaded",
                        },
                    ],
                },
            ),
        )
    )
    control, candidate = config.routes["r"].variants
    assert ([t.endpoint for t in control.targets], control.policy.name, control.strategy) == (
        ["a"],
        "p",
        "lowest-cost",
    )
    assert ([t.endpoint for t in candidate.targets], candidate.policy.name, candidate.strategy) == (
        ["b"],
        "q",
        "least-loaded",
    )
    experiment = config.routes["r"].experiment
    assert experiment is not None and (experiment.sticky_by, experiment.min_requests) == ("user", 200)


def test_indexes_for_matching() -> None:
    config = compile(
        resources(
            endpoint("a"),
            route("chat", ["a"], default=True, match={"taskTypes": ["chat", "ask"], "models": ["gpt-4o"]}),
            route("edit", ["a"], match={"taskTypes": ["edit"]}),
        )
    )
    assert config.task_routes == {"chat": "chat", "ask": "chat", "edit": "edit"}
    assert config.model_routes == {"gpt-4o": "chat", "chat": "chat", "edit": "edit"}


def test_lenient_compile_leaves_out_bad_resources_and_their_dependants() -> None:
    compilation = compile_leniently(
        resources(
            endpoint("good"),
            endpoint("broken", deprecation={"replacement": "missing"}),
            policy("uses-broken", chain=["broken"]),
            route("fine", ["good"], default=True),
            route("direct", ["broken"]),
            route("indirect", ["good"], fallbackPolicy="uses-broken"),
        )
    )
    assert set(compilation.config.routes) == {"fine"}
    assert set(compilation.config.endpoints) == {"good"}
    assert compilation.problems_of("ModelRoute", "indirect")[0].field_path == "spec.fallbackPolicy"
    assert compilation.problems_of("ModelRoute", "direct")[0].field_path == "spec.targets[0].endpoint"
    assert compilation.problems_of("FallbackPolicy", "uses-broken")[0].field_path == "spec.chain[0]"
    assert compilation.problems_of("ModelRoute", "fine") == []


def test_strict_compile_lists_every_problem() -> None:
    with pytest.raises(ConfigError) as caught:
        compile(resources(route("a", ["x"]), route("b", ["y"])))
    assert [(p.name, p.field_path) for p in caught.value.problems] == [
        ("a", "spec.targets[0].endpoint"),
        ("b", "spec.targets[0].endpoint"),
    ]
    assert "2 problem(s)" in str(caught.value)


def test_oldest_route_wins_a_conflict() -> None:
    compilation = compile_leniently(
        resources(
            endpoint("a"),
            route("newer", ["a"], default=True, created=T0 + timedelta(hours=1)),
            route("older", ["a"], default=True, created=T0),
        )
    )
    assert compilation.config.default_route == "older"
    assert [p.name for p in compilation.problems] == ["newer"]


def test_invalid_route_does_not_block_a_valid_default() -> None:
    compilation = compile_leniently(
        resources(
            endpoint("a"),
            route("broken", ["missing"], default=True, created=T0),
            route("working", ["a"], default=True, created=T0 + timedelta(hours=1)),
        )
    )
    assert compilation.config.default_route == "working"


def test_azure_gets_a_default_api_version_and_urls_lose_trailing_slash() -> None:
    config = compile(
        resources(
            endpoint("az", provider="azure-openai", url="https://x.openai.azure.com/"),
            endpoint("o"),
            route("r", ["az", "o"]),
        )
    )
    assert config.endpoints["az"].api_version == "2024-10-21"
    assert config.endpoints["az"].url == "https://x.openai.azure.com"
    assert config.endpoints["o"].api_version == ""


@pytest.mark.parametrize(("window", "seconds"), [("90s", 90), ("15m", 900), ("1h", 3600), ("7d", 604800)])
def test_budget_windows(window: str, seconds: int) -> None:
    config = compile(resources(endpoint("a"), route("r", ["a"], budget={"usd": 1, "window": window})))
    budget = config.routes["r"].budget
    assert budget is not None and budget.window_seconds == seconds and budget.action == "cheapest"
