"""The planner's memo (a variant's pool and chain per config) changes nothing but the cost of a decision."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from support.builders import endpoint, policy, resources, route
from switchboard_proxy.config import compile
from switchboard_proxy.routing import RouteRequest, RouterState, plan

SUNSET = datetime(2026, 6, 1, tzinfo=UTC)
CONFIG = compile(
    resources(
        endpoint("old", deprecation={"sunset": SUNSET.isoformat(), "replacement": "new"}),
        endpoint("new"),
        endpoint("other"),
        endpoint("backup"),
        policy("p", chain=["old", "backup"]),
        route(
            "r",
            [{"endpoint": "old", "weight": 50}, {"endpoint": "other", "weight": 50}],
            fallbackPolicy="p",
            default=True,
        ),
    )
)


@pytest.mark.parametrize("seed", range(20))
def test_the_memo_gives_the_same_plans_across_a_sunset(seed: int) -> None:
    memo: dict[object, object] = {}
    for now in (
        SUNSET - timedelta(hours=1),
        SUNSET,
        SUNSET + timedelta(hours=1),
        SUNSET - timedelta(hours=2),
    ):
        request = RouteRequest(model="r", request_id=f"req-{seed}")
        with_memo = plan(CONFIG, request, RouterState(memo=memo), now=now, rng=random.Random(seed))
        without = plan(CONFIG, request, RouterState(), now=now, rng=random.Random(seed))
        assert with_memo == without
    assert len(memo) == 3  # the sunsets, and one layout before and one after the sunset


def test_the_sunset_moves_the_memoised_pool() -> None:
    memo: dict[object, object] = {}
    before = plan(
        CONFIG,
        RouteRequest(model="r"),
        RouterState(memo=memo),
        now=SUNSET - timedelta(1),
        rng=random.Random(1),
    )
    after = plan(CONFIG, RouteRequest(model="r"), RouterState(memo=memo), now=SUNSET, rng=random.Random(1))
    assert "old" in before.endpoints and "old" not in after.endpoints and "new" in after.endpoints
