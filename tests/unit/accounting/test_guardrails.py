"""VariantGuard: a variant stops once it has enough requests and too high an error rate, reported once;
the guard's state survives a reload that leaves the experiment alone and starts afresh when it changes."""

from __future__ import annotations

from typing import Any

from support.builders import endpoint, resources, route
from switchboard_proxy.accounting.guardrails import VariantGuard, VariantHealth, breaches
from switchboard_proxy.config import RouterConfig, compile
from switchboard_proxy.config.model import ExperimentConfig

EXPERIMENT = ExperimentConfig(name="x", sticky_by="user", max_error_rate=0.1, min_requests=20)


def config(guardrails: dict[str, Any] | None = None, *, experiment_name: str = "x") -> RouterConfig:
    experiment = {
        "name": experiment_name,
        "variants": [{"name": "good", "weight": 50}, {"name": "bad", "weight": 50}],
        "guardrails": guardrails or {"maxErrorRate": 0.1, "minRequests": 20},
    }
    return compile(
        resources(
            endpoint("a"),
            route("r", ["a"], experiment=experiment, default=True),
            route("other", ["a"], experiment={**experiment, "name": "y"}),
            route("plain", ["a"]),
        )
    )


def test_a_route_without_an_experiment_never_stops() -> None:
    guard = VariantGuard.for_config(config(), None)
    assert not any(guard.observe("plain", "default", failed=True) for _ in range(100))
    assert guard.stopped == frozenset()


def test_a_stop_is_reported_exactly_once() -> None:
    guard = VariantGuard.for_config(config(), None)
    verdicts = [guard.observe("r", "bad", failed=True) for _ in range(100)]
    assert verdicts.count(True) == 1
    assert verdicts.index(True) == 19  # the 20th request is enough to judge
    assert guard.stopped == {("r", "bad")}


def test_too_few_requests_are_not_judged() -> None:
    guard = VariantGuard.for_config(config(), None)
    assert not any(guard.observe("r", "bad", failed=True) for _ in range(19))


def test_error_rate_at_the_limit_does_not_stop_above_it_does() -> None:
    guard = VariantGuard.for_config(config(), None)
    for index in range(100):
        assert not guard.observe("r", "bad", failed=index % 10 == 9)  # <= 10 %
    assert guard.observe("r", "bad", failed=True)  # 11/101 > 10 %


def test_variants_and_routes_are_counted_apart() -> None:
    guard = VariantGuard.for_config(config(), None)
    for _ in range(30):
        guard.observe("r", "good", failed=False)
        guard.observe("other", "bad", failed=False)
    verdicts = [guard.observe("r", "bad", failed=True) for _ in range(30)]
    assert verdicts.count(True) == 1
    assert guard.health[("r", "good")].error_rate == 0.0
    assert guard.health[("other", "bad")].error_rate == 0.0
    assert guard.stopped == {("r", "bad")}


def test_a_reload_keeps_the_state_of_an_unchanged_experiment_only() -> None:
    guard = VariantGuard.for_config(config(), None)
    for _ in range(20):
        guard.observe("r", "bad", failed=True)
        guard.observe("other", "bad", failed=True)
    same = VariantGuard.for_config(config(), guard)
    assert same.stopped == {("r", "bad"), ("other", "bad")}
    assert same.health[("r", "bad")].requests == 20
    edited = VariantGuard.for_config(config({"maxErrorRate": 0.5, "minRequests": 20}), guard)
    assert edited.stopped == frozenset() and edited.health == {}  # a user edit resets the experiment


def test_variant_health_and_breaches() -> None:
    assert VariantHealth().error_rate == 0.0
    assert VariantHealth(requests=10, failures=5).error_rate == 0.5
    assert not breaches(VariantHealth(requests=19, failures=19), EXPERIMENT)
    assert breaches(VariantHealth(requests=20, failures=3), EXPERIMENT)
    assert not breaches(VariantHealth(requests=20, failures=2), EXPERIMENT)
