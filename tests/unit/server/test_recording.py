"""Recording: what each verdict counts in the metrics, and that guardrails hear only what a variant is
responsible for (never the caller's own mistakes, a request no endpoint could serve, or shedding)."""

from __future__ import annotations

from typing import Any

import pytest

from support.builders import endpoint, policy, route
from support.stack import read_metric
from switchboard_proxy.accounting.usage import Usage
from switchboard_proxy.execution.classify import Failure
from switchboard_proxy.execution.verdicts import (
    BudgetExhausted,
    DeadlineExceeded,
    Degrade,
    PassThrough,
    ServedJson,
    Shed,
    Trail,
    Unservable,
    UpstreamError,
)
from switchboard_proxy.server.recording import is_variant_failure

pytestmark = pytest.mark.looptime

TRAIL = Trail()
SERVED = ServedJson(TRAIL, "e", b"{}", Usage(), 0.0, "stop", False)


@pytest.mark.parametrize(
    ("verdict", "status", "expected"),
    [
        pytest.param(SERVED, 200, False, id="served"),
        pytest.param(Degrade(TRAIL, static=True, summary=""), 200, True, id="degraded"),
        pytest.param(DeadlineExceeded(TRAIL, ""), 504, True, id="deadline"),
        pytest.param(UpstreamError(TRAIL, Failure.SERVER_ERROR, None, ""), 502, True, id="upstream-error"),
        pytest.param(PassThrough(TRAIL, "e", 400, b"{}"), 400, None, id="clients-own-4xx"),
        pytest.param(Unservable(TRAIL, "unsupported_by_route", "", None), 400, None, id="unservable"),
        pytest.param(Shed(TRAIL), 503, None, id="shed"),
        pytest.param(BudgetExhausted(TRAIL, 60), 429, None, id="budget"),
        pytest.param(None, 400, None, id="refused-before-planning"),
    ],
)
def test_only_what_the_variant_caused_counts_for_its_guardrails(
    verdict: Any, status: int, expected: Any
) -> None:
    assert is_variant_failure(verdict, status) is expected


def experiment_route(upstream: Any) -> list[dict[str, Any]]:
    return [
        endpoint("ok", upstream.url, capabilities=["streaming"]),
        endpoint("error-500", upstream.url, capabilities=["streaming"]),
        policy("p", retries={"attempts": 0}),
        route(
            "r",
            ["ok"],
            fallbackPolicy="p",
            default=True,
            experiment={
                "name": "x",
                "stickyBy": "request",
                "variants": [
                    {"name": "control", "weight": 50},
                    {"name": "candidate", "weight": 50, "targets": [{"endpoint": "error-500"}]},
                ],
                "guardrails": {"maxErrorRate": 0.2, "minRequests": 10},
            },
        ),
    ]


async def test_client_mistakes_never_stop_a_variant(upstream, sidecar) -> None:
    client = await sidecar(experiment_route(upstream))
    tools = [{"type": "function", "function": {"name": "f"}}]
    for _ in range(60):  # unservable (tools) and malformed-for-the-route (messages API) requests
        body = {"model": "r", "messages": [{"role": "user", "content": "hi"}], "tools": tools}
        assert (await client.post("/v1/chat/completions", json=body)).status == 400
        assert (await client.post("/v1/messages", json={**body, "max_tokens": 5})).status == 400
    metrics = await (await client.get("/metrics")).text()
    assert read_metric(metrics, "switchboard_variant_stopped") == 0


async def test_endpoint_faults_stop_the_failing_variant(upstream, sidecar) -> None:
    client = await sidecar(experiment_route(upstream))
    for _ in range(80):
        await client.post(
            "/v1/chat/completions", json={"model": "r", "messages": [{"role": "user", "content": "hi"}]}
        )
    metrics = await (await client.get("/metrics")).text()
    assert read_metric(metrics, "switchboard_variant_stopped", route="r", variant="candidate") == 1
    assert read_metric(metrics, "switchboard_variant_stopped", route="r", variant="control") == 0


async def test_shed_and_budget_refusals_are_counted_as_such(upstream, sidecar) -> None:
    docs = [
        endpoint("ok", upstream.url, pricing={"inputPerMTok": 1.0, "outputPerMTok": 1.0}),
        # Each call reserves its worst case (1 prompt token + 10 output at $1/Mtok = $0.000011) and costs
        # what the upstream reports (4 tokens): two fit, then the third's worst case (8 + 11 > 18) does not.
        route("r", ["ok"], default=True, budget={"usd": 0.000018, "window": "1h", "action": "reject"}),
    ]
    client = await sidecar(docs)
    body = {"model": "r", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    codes = [(await client.post("/v1/chat/completions", json=body)).status for _ in range(3)]
    assert codes == [200, 200, 429]
    metrics = await (await client.get("/metrics")).text()
    assert read_metric(metrics, "switchboard_shed_total", route="r", reason="budget") == codes.count(429)


async def test_5_an_unexpected_error_is_counted_as_the_500_it_answers(upstream, sidecar, monkeypatch) -> None:
    """A bug anywhere in the request path: the answer is a JSON 500 with the request id, no traceback in
    it, and the metrics and the access log say 500 (they used to say 499, client gone)."""
    from switchboard_proxy.server import calls

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(calls, "plan", broken)
    client = await sidecar([endpoint("ok", upstream.url), route("r", ["ok"], default=True)])
    response = await client.post(
        "/v1/chat/completions", json={"model": "r", "messages": [{"role": "user", "content": "hi"}]}
    )
    body = await response.json()
    assert response.status == 500 and body["error"]["code"] == "internal_error"
    assert (
        response.headers["X-Request-Id"] in body["error"]["message"]
        and "a bug" not in body["error"]["message"]
    )
    metrics = await (await client.get("/metrics")).text()
    assert read_metric(metrics, "switchboard_requests_total", code="500") == 1
    assert read_metric(metrics, "switchboard_requests_total", code="499") == 0
