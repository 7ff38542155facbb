"""A $0.01 budget under 200 concurrent requests, from three sidecars sharing Redis and from one alone.

Every request's worst case equals its real cost here (a one-token prompt and `max_tokens` 9 that the sim
fills: ten tokens at $100 per Mtok, $0.001), so "exactly at the boundary" is ten requests: `reject`
serves ten and refuses the rest with 429 budget_exhausted; `cheapest` sends ten to the pricey endpoint
and every other one to the cheap one. Without the shared state, three sidecars would spend $0.03.
"""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from conftest import Fleet

from support.load import burst
from support.redis_server import RedisServer
from support.stack import endpoint, http, policy, route
from support.waiting import wait_until

pytestmark = pytest.mark.timeout(120)

PRICEY = {"inputPerMTok": 100.0, "outputPerMTok": 100.0}
CHEAP = {"inputPerMTok": 0.01, "outputPerMTok": 0.01}
BODY = {"model": "r", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}
REQUESTS = 200


def documents(sim_url: str, action: str) -> list[dict[str, object]]:
    return [
        endpoint("pricey", sim_url, model="pricey", pricing=PRICEY),
        endpoint("cheap", sim_url, model="cheap", pricing=CHEAP),
        policy("to-cheap", chain=["cheap"]),
        route(
            "r",
            ["pricey"],
            default=True,
            fallbackPolicy="to-cheap",
            budget={"usd": 0.01, "window": "1d", "action": action},
        ),
    ]


@pytest.mark.parametrize(
    "shared", [pytest.param(True, id="three-sidecars-redis"), pytest.param(False, id="one-sidecar")]
)
@pytest.mark.parametrize("action", ["reject", "cheapest"])
def test_a_budget_is_never_overspent_and_switches_exactly_at_its_boundary(
    fleet: Fleet, sim_models, redis_server: RedisServer, action: str, shared: bool
) -> None:
    sim = sim_models({"pricey": {"ttft_ms": 20}, "cheap": {}})
    sidecars = fleet.start(
        documents(sim.base_url, action), count=3 if shared else 1, state=redis_server.url if shared else ""
    )
    targets = itertools.cycle(sidecars)
    answers = burst([(f"{next(targets).base_url}/v1/chat/completions", BODY, {}) for _ in range(REQUESTS)])

    served_pricey = [
        a for a in answers if a.status == 200 and a.headers.get("X-Switchboard-Endpoint") == "pricey"
    ]
    spent = sum(float(a.headers["X-Switchboard-Cost-Usd"]) for a in served_pricey)
    assert len(served_pricey) == 10, [a.status for a in answers]
    assert spent == pytest.approx(0.01, abs=1e-12)
    if action == "reject":
        refused = [a for a in answers if a.status == 429]
        assert len(refused) == REQUESTS - 10 and all(b'"budget_exhausted"' in a.body for a in refused)
        assert all(int(a.headers["Retry-After"]) >= 1 for a in refused)
    else:
        cheap = [a for a in answers if a.status == 200 and a.headers.get("X-Switchboard-Endpoint") == "cheap"]
        seen = Counter((a.status, a.headers.get("X-Switchboard-Endpoint"), a.body[:200]) for a in answers)
        assert len(cheap) == REQUESTS - 10, seen

    def fleet_spent() -> float:
        spent_seen = {
            http("GET", f"{s.base_url}/switchboard/config").json()["budgets"]["r"]["spent_usd"]
            for s in sidecars
        }
        return spent_seen.pop() if len(spent_seen) == 1 else 0.0

    if action == "reject":
        # Every sidecar reports the fleet's spend, not its own share of it.
        assert wait_until(
            fleet_spent, timeout=10, what="every sidecar to see the fleet's spend"
        ) == pytest.approx(0.01)
