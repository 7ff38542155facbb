"""The routing tests' moments in time and planning helpers (resources come from support.builders).

Every config in these tests goes through `parse_resource` and `compile`, so a test can never plan over a
config that the contract would have refused.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from switchboard_proxy.config import (
    RouterConfig,
    compile,
    load_resources,
)
from switchboard_proxy.routing import Plan, RouteRequest, RouterState, plan

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"

# A fixed "now" for planning: before every sunset used in these tests unless a test says otherwise.
T0 = datetime(2026, 1, 1, tzinfo=UTC)
SUNSET = datetime(2026, 6, 1, tzinfo=UTC)
BEFORE_SUNSET = SUNSET - timedelta(seconds=1)
AFTER_SUNSET = SUNSET + timedelta(days=1)


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
