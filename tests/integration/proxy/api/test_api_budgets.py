"""Route budgets: each request reserves its worst case (prompt estimate + max_tokens at the endpoint's
prices) before it is sent; once what is left of the window cannot cover the next one, `reject` answers 429
and `cheapest` keeps only the cheapest endpoint, until the window starts again. Spend comes from upstream
usage x pricing, and never exceeds the budget.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sidecars import chat_body

from support.processes import Process
from support.stack import Stack, endpoint, policy, route, start_proxy, write_resources

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

PRICEY = {"inputPerMTok": 100.0, "outputPerMTok": 100.0}  # a worst case of 20-odd tokens: about $0.002
CHEAP = {"inputPerMTok": 0.01, "outputPerMTok": 0.01}
MAX_TOKENS = 16
TRIES = 12  # more than a $0.01 budget can cover at about $0.002 a request


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
    replies = [
        stack.post("/v1/chat/completions", chat_body("strict", max_tokens=MAX_TOKENS)) for _ in range(TRIES)
    ]
    statuses = [reply.status for reply in replies]
    served = statuses.count(200)
    # Served while the worst case fits, then refused: never a 200 after the first 429.
    assert served >= 2 and statuses == [200] * served + [429] * (TRIES - served), statuses
    spent = sum(float(reply.header("X-Switchboard-Cost-Usd") or 0) for reply in replies[:served])
    assert 0.005 < spent <= 0.01
    refused = replies[-1]
    error = refused.json()["error"]
    assert error["code"] == "budget_exhausted" and error["type"] == "rate_limit_error"
    assert 0 < int(refused.header("Retry-After") or 0) <= 86400
    assert stack.metric("switchboard_shed_total", route="strict", reason="budget") == TRIES - served
    budgets = stack.get("/switchboard/config").json()["budgets"]
    assert budgets["strict"]["spent_usd"] == pytest.approx(spent, abs=1e-9)
    assert budgets["thrifty"]["spent_usd"] == 0
    assert stack.post("/v1/chat/completions", chat_body("free")).status == 200  # other routes unaffected


def test_cheapest_keeps_only_the_cheapest_endpoint(budget_stack: Stack) -> None:
    stack = budget_stack
    replies = [
        stack.post("/v1/chat/completions", chat_body("thrifty", max_tokens=MAX_TOKENS)) for _ in range(TRIES)
    ]
    assert {reply.status for reply in replies} == {200}
    chosen = [reply.header("X-Switchboard-Endpoint") for reply in replies]
    pricey = chosen.count("pricey")
    # The pricey endpoint while the worst case fits, then only the cheapest one.
    assert pricey >= 2 and chosen == ["pricey"] * pricey + ["cheap"] * (TRIES - pricey), chosen
    spent = sum(float(reply.header("X-Switchboard-Cost-Usd") or 0) for reply in replies[:pricey])
    assert spent <= 0.01
