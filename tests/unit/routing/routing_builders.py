"""Builders for the routing tests: small resource dicts, validated and compiled like real ones.

Every config in these tests goes through `parse_resource` and `compile`, so a test can never plan over a
config that the contract would have refused. Spec keys are written in the users' camelCase.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from switchboard_proxy.config import (
    API_VERSION,
    EndpointConfig,
    Resources,
    RouterConfig,
    compile,
    load_resources,
    parse_resource,
)
from switchboard_proxy.config.loading import AnyResource
from switchboard_proxy.routing import Plan, RouteRequest, RouterState, plan

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"

# A fixed "now" for planning: before every sunset used in these tests unless a test says otherwise.
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SUNSET = datetime(2026, 6, 1, tzinfo=UTC)
BEFORE_SUNSET = SUNSET - timedelta(seconds=1)
AFTER_SUNSET = SUNSET + timedelta(days=1)


def _resource(kind: str, name: str, spec: dict[str, Any]) -> AnyResource:
    doc = {"apiVersion": API_VERSION, "kind": kind, "metadata": {"name": name}, "spec": spec}
    resource, problems = parse_resource(doc)
    if problems or resource is None:
        raise AssertionError(f"test resource {kind}/{name} is invalid: {[str(p) for p in problems]}")
    return resource


def endpoint(name: str, **spec: Any) -> AnyResource:
    """A ModelEndpoint; url and model default to harmless values."""
    return _resource("ModelEndpoint", name, {"url": "http://127.0.0.1:9/v1", "model": f"m-{name}", **spec})


def policy(name: str, **spec: Any) -> AnyResource:
    """A FallbackPolicy."""
    return _resource("FallbackPolicy", name, spec)


def route(name: str, **spec: Any) -> AnyResource:
    """A ModelRoute."""
    return _resource("ModelRoute", name, spec)


def compile_config(*resources: AnyResource, now: datetime | None = None) -> RouterConfig:
    """Compile strictly (a problem fails the test)."""
    return compile(Resources.of(list(resources)), now=now)


def endpoint_config(name: str = "e", **spec: Any) -> EndpointConfig:
    """One compiled endpoint (with the defaults compile applies)."""
    config = compile_config(endpoint(name, **spec), route("r", targets=[{"endpoint": name}]))
    return config.endpoints[name]


def examples_config(now: datetime = T0) -> RouterConfig:
    """The repository's examples/ directory, compiled at `now`."""
    loaded = load_resources([EXAMPLES])
    assert not loaded.problems, [str(p) for p in loaded.problems]
    return compile(loaded.resources, now=now)


def plan_for(
    config: RouterConfig,
    request: RouteRequest | None = None,
    state: RouterState | None = None,
    *,
    now: datetime = T0,
    seed: int = 0,
) -> Plan:
    """`plan` with defaults for the parts a test does not care about."""
    return plan(config, request or RouteRequest(), state or RouterState(), now=now, rng=random.Random(seed))


def attempts_of(decision: Plan) -> list[tuple[str, str, int]]:
    """(endpoint, stage, retry) of every attempt, in order."""
    return [(a.endpoint, a.stage, a.retry) for a in decision.attempts]
