"""Layouts (every variant's pool and chain per stretch between sunsets, built once per config) change
nothing but the cost of a decision: planning with them gives the plans planning without them gives."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from support.builders import endpoint, policy, resources, route
from switchboard_proxy.config import compile
from switchboard_proxy.routing import RouteRequest, RouterState, plan
from switchboard_proxy.routing.layouts import Layouts, build_layout

SUNSET = datetime(2026, 6, 1, tzinfo=UTC)
LATER = SUNSET + timedelta(days=30)
CONFIG = compile(
    resources(
        endpoint("old", deprecation={"sunset": SUNSET.isoformat(), "replacement": "new"}),
        endpoint("new", deprecation={"sunset": LATER.isoformat(), "replacement": "newer"}),
        endpoint("newer"),
        endpoint("other"),
        endpoint("backup"),
        policy("p", chain=["old", "backup"]),
        route(
            "r",
            [{"endpoint": "old", "weight": 50}, {"endpoint": "other", "weight": 50}],
            fallbackPolicy="p",
            default=True,
        ),
    ),
    now=SUNSET - timedelta(days=1),
)
MOMENTS = [
    SUNSET - timedelta(hours=1),
    SUNSET,
    SUNSET + timedelta(hours=1),
    LATER,
    LATER + timedelta(days=1),
    SUNSET - timedelta(hours=2),
]


@pytest.mark.parametrize("seed", range(20))
def test_layouts_give_the_same_plans_as_planning_without_them(seed: int) -> None:
    layouts = Layouts(CONFIG)
    for now in MOMENTS:
        request = RouteRequest(model="r", request_id=f"req-{seed}")
        with_layouts = plan(CONFIG, request, RouterState(layouts=layouts), now=now, rng=random.Random(seed))
        without = plan(CONFIG, request, RouterState(), now=now, rng=random.Random(seed))
        assert with_layouts == without


@pytest.mark.parametrize("now", MOMENTS)
def test_each_stretch_between_sunsets_has_the_layout_of_its_moments(now: datetime) -> None:
    route_config = CONFIG.routes["r"]
    variant = route_config.variants[0]
    assert Layouts(CONFIG).of(route_config, variant, now) == build_layout(CONFIG, route_config, variant, now)


def test_sunsets_move_the_pool_and_the_chain_in_turn() -> None:
    layouts = Layouts(CONFIG)
    route_config = CONFIG.routes["r"]
    variant = route_config.variants[0]

    def names(now: datetime) -> tuple[list[str], list[str]]:
        layout = layouts.of(route_config, variant, now)
        return [c.name for c in layout.pool], [e.name for e in layout.chain]

    assert names(SUNSET - timedelta(seconds=1)) == (["old", "other"], ["backup"])
    assert names(SUNSET) == (["new", "other"], ["backup"])
    assert names(LATER) == (["newer", "other"], ["backup"])


def test_planning_never_writes_into_its_state() -> None:
    state = RouterState(layouts=Layouts(CONFIG))
    before = dict(state.layouts._layouts)  # type: ignore[union-attr]
    for now in MOMENTS:
        plan(CONFIG, RouteRequest(model="r"), state, now=now, rng=random.Random(0))
    assert state.layouts._layouts == before  # type: ignore[union-attr]
