"""Route budgets: once a route's window is spent, `reject` answers 429 and `cheapest` keeps only the
cheapest endpoint, until the window starts again. Spend comes from upstream usage x pricing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sidecars import chat_body

from support.processes import Process
from support.stack import Stack, endpoint, policy, route, start_proxy, write_resources

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

PRICEY = {"inputPerMTok": 1000.0, "outputPerMTok": 1000.0}  # one sim answer costs about $0.02
CHEAP = {"inputPerMTok": 0.01, "outputPerMTok": 0.01}


@pytest.fixture(scope="module")
def budget_stack(sim: Process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    documents = [
        endpoint("pricey", sim.base_url, model="chat-a", pricing=PRICEY),
        endpoint("cheap", sim.base_url, model="chat-b", pricing=CHEAP),
        policy("to-cheap", chain=["cheap"]),
        route("strict", ["pricey"], budget={"usd": 0.01, "window": "1d", "action": "reject"}),
        route(
            "thrifty",
            ["pricey"],
            fallbackPolicy="to-cheap",
            budget={"usd": 0.01, "window": "1d", "action": "cheapest"},
        ),
        route("free", ["pricey"], default=True),
    ]
    resources = write_resources(tmp_path_factory.mktemp("budgets"), documents)
    proxy = start_proxy(resources=resources)
    try:
        yield Stack(sim=sim, proxy=proxy, resources=resources)
    finally:
        proxy.stop()


def test_reject_answers_429_once_the_window_is_spent(budget_stack: Stack) -> None:
    stack = budget_stack
    first = stack.post("/v1/chat/completions", chat_body("strict"))
    assert first.status == 200 and float(first.header("X-Switchboard-Cost-Usd") or 0) > 0.01
    refused = stack.post("/v1/chat/completions", chat_body("strict"))
    assert refused.status == 429
    error = refused.json()["error"]
    assert error["code"] == "budget_exhausted" and error["type"] == "rate_limit_error"
    assert 0 < int(refused.header("Retry-After") or 0) <= 86400
    assert stack.metric("switchboard_shed_total", route="strict", reason="budget") == 1
    budgets = stack.get("/switchboard/config").json()["budgets"]
    assert budgets["strict"]["exhausted"] is True and budgets["strict"]["spent_usd"] > 0.01
    assert budgets["thrifty"]["exhausted"] is False
    assert stack.post("/v1/chat/completions", chat_body("free")).status == 200  # other routes unaffected


def test_cheapest_keeps_only_the_cheapest_endpoint(budget_stack: Stack) -> None:
    stack = budget_stack
    assert (
        stack.post("/v1/chat/completions", chat_body("thrifty")).header("X-Switchboard-Endpoint") == "pricey"
    )
    for _ in range(3):
        reply = stack.post("/v1/chat/completions", chat_body("thrifty"))
        assert reply.status == 200 and reply.header("X-Switchboard-Endpoint") == "cheap"
