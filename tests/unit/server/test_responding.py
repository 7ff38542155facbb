"""Every verdict as HTTP: status, body in the caller's API shape, X-Switchboard-* headers, and a stream's
bytes (committed only once the first event is in, ended with the API's error event when it breaks).
A real app and the fake upstream in one event loop, on fake time."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from support.builders import endpoint, policy, route
from support.fake_upstream import FakeUpstream
from support.stack import read_metric
from support.waiting import until

pytestmark = pytest.mark.looptime

HELLO = [{"role": "user", "content": "hi"}]
STATIC = {"mode": "static", "status": 200, "body": {"choices": [{"message": {"content": "later"}}]}}


def documents(upstream: FakeUpstream, pool: list[str], chain: list[str] = (), **policy_spec: Any) -> list:  # type: ignore[assignment]
    names = dict.fromkeys([*pool, *chain])
    return [
        *(endpoint(name, upstream.url) for name in names),
        policy("p", chain=list(chain), retries={"attempts": 0}, **policy_spec),
        route("r", pool, fallbackPolicy="p", default=True),
    ]


async def chat(client: Any, **body: Any) -> Any:
    return await client.post("/v1/chat/completions", json={"model": "r", "messages": HELLO, **body})


async def test_served_json_carries_what_happened(upstream, sidecar) -> None:
    client = await sidecar(documents(upstream, ["error-500"], ["ok"]))
    response = await chat(client)
    assert response.status == 200 and (await response.json())["choices"][0]["message"]["content"] == "hi"
    headers = response.headers
    assert headers["X-Switchboard-Route"] == "r" and headers["X-Switchboard-Variant"] == "default"
    assert headers["X-Switchboard-Endpoint"] == "ok" and headers["X-Switchboard-Attempts"] == "2"
    assert headers["X-Switchboard-Fallback-Reason"] == "server-error"
    assert float(headers["X-Switchboard-Cost-Usd"]) >= 0 and len(headers["X-Request-Id"]) == 32


async def test_the_clients_own_mistake_keeps_the_upstreams_words(upstream, sidecar) -> None:
    client = await sidecar(documents(upstream, ["bad-request"], ["ok"]))
    response = await chat(client)
    assert response.status == 400 and "max_tokens" in (await response.json())["error"]["message"]
    assert response.headers["X-Switchboard-Endpoint"] == "bad-request"
    assert upstream.requests["ok"] == 0


@pytest.mark.parametrize(
    ("model", "status", "code"),
    [
        pytest.param("error-500", 502, "server-error", id="server-error"),
        pytest.param("rate-limited-30", 429, "rate-limited", id="rate-limited"),
    ],
)
async def test_a_failure_the_policy_does_not_fail_over_on(upstream, sidecar, model, status, code) -> None:
    client = await sidecar(documents(upstream, [model], ["ok"], triggers=["timeout"]))
    response = await chat(client)
    error = (await response.json())["error"]
    assert response.status == status and error["code"] == code and "does not fail over" in error["message"]
    if status == 429:
        assert response.headers["Retry-After"] == "30"


async def test_every_endpoint_failing_is_a_503_in_mode_error(upstream, sidecar) -> None:
    client = await sidecar(
        documents(upstream, ["error-500"], degraded={"mode": "error", "retryAfterSeconds": 4})
    )
    response = await chat(client)
    error = (await response.json())["error"]
    assert response.status == 503 and response.headers["Retry-After"] == "4"
    assert (
        error["code"] == "all_endpoints_failed" and "error-500: server-error (HTTP 500)" in error["message"]
    )


async def test_a_deadline_that_runs_out_is_a_504_in_mode_error(upstream, sidecar) -> None:
    client = await sidecar(documents(upstream, ["hang"]))
    response = (
        await chat(client, stream=False)
        if False
        else await client.post(
            "/v1/chat/completions",
            json={"model": "r", "messages": HELLO},
            headers={"X-Switchboard-Deadline-Ms": "300"},
        )
    )
    assert response.status == 504 and (await response.json())["error"]["code"] == "deadline_exceeded"


@pytest.mark.parametrize(
    ("path", "body", "read"),
    [
        pytest.param(
            "/v1/chat/completions",
            {"messages": HELLO},
            lambda d: d["choices"][0]["message"]["content"],
            id="chat",
        ),
        pytest.param("/v1/completions", {"prompt": "x"}, lambda d: d["choices"][0]["text"], id="completions"),
    ],
)
async def test_a_static_degraded_answer_in_the_callers_shape(upstream, sidecar, path, body, read) -> None:
    client = await sidecar(documents(upstream, ["error-500"], degraded=STATIC))
    response = await client.post(path, json={"model": "r", **body})
    assert response.status == 200 and response.headers["X-Switchboard-Degraded"] == "true"
    assert read(await response.json()) == "later"


async def test_embeddings_never_get_a_static_degraded_body(upstream, sidecar) -> None:
    docs = [
        endpoint("error-500", upstream.url, capabilities=["embeddings"]),
        policy("p", retries={"attempts": 0}, degraded=STATIC),
        route("r", ["error-500"], fallbackPolicy="p", default=True),
    ]
    client = await sidecar(docs)
    response = await client.post("/v1/embeddings", json={"model": "r", "input": "x"})
    assert response.status == 503 and (await response.json())["error"]["code"] == "all_endpoints_failed"
    assert "X-Switchboard-Degraded" not in response.headers


@pytest.mark.parametrize(
    ("path", "body", "anthropic"),
    [
        pytest.param("/v1/embeddings", {"input": "x"}, False, id="embeddings-on-a-chat-route"),
        pytest.param(
            "/v1/messages",
            {"max_tokens": 5, "messages": HELLO, "tools": [{"name": "f", "input_schema": {}}]},
            True,
            id="messages-with-tools-on-a-route-without",
        ),
        pytest.param(
            "/v1/chat/completions",
            {"messages": HELLO, "tools": [{"type": "function", "function": {"name": "f"}}]},
            False,
            id="tools-on-a-route-without",
        ),
    ],
)
async def test_a_request_the_route_can_never_serve_is_a_400(upstream, sidecar, path, body, anthropic) -> None:
    docs = [
        endpoint("ok", upstream.url, capabilities=["streaming"]),
        policy("p", degraded=STATIC),
        route("r", ["ok"], fallbackPolicy="p", default=True),
    ]
    client = await sidecar(docs)
    response = await client.post(path, json={"model": "r", **body})
    document = await response.json()
    assert response.status == 400 and "X-Switchboard-Degraded" not in response.headers
    error = document["error"]
    assert error["code"] == "unsupported_by_route" and "route 'r'" in error["message"]
    assert (document.get("type") == "error") is anthropic
    assert error["type"] == "invalid_request_error"
    assert upstream.requests["ok"] == 0


async def test_a_stream_is_relayed_whole_and_its_slot_given_back(upstream, sidecar) -> None:
    client = await sidecar(documents(upstream, ["ok"]))
    response = await chat(client, stream=True)
    text = (await response.read()).decode()
    assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
    assert text.endswith("data: [DONE]\n\n") and '"Hello"' in text and '"usage"' not in text
    await until(lambda: upstream.inflight["ok"] == 0, timeout=1)
    endpoints = await (await client.get("/switchboard/endpoints")).json()
    assert endpoints["endpoints"]["ok"]["inflight"] == 0


async def test_a_stream_that_breaks_ends_with_the_apis_error_event(upstream, sidecar) -> None:
    client = await sidecar(documents(upstream, ["no-done"], circuitBreaker={"consecutiveFailures": 1}))
    response = await chat(client, stream=True)
    events = [e for e in (await response.read()).decode().split("\n\n") if e]
    assert response.status == 200  # committed before it broke
    last = json.loads(events[-1].removeprefix("data: "))
    assert last["error"]["code"] == "stream_interrupted"
    metrics = await (await client.get("/metrics")).text()
    assert read_metric(metrics, "switchboard_requests_total", route="r", code="502") == 1
    assert (
        read_metric(metrics, "switchboard_attempts_total", endpoint="no-done", outcome="midstream-failure")
        == 1
    )
    assert read_metric(metrics, "switchboard_circuit_open", endpoint="no-done") == 1


async def test_a_client_that_leaves_mid_stream_costs_the_endpoint_nothing(upstream, sidecar) -> None:
    client = await sidecar(
        documents(upstream, ["keepalive-hang"], ["ok"], circuitBreaker={"consecutiveFailures": 1})
    )
    request = asyncio.create_task(chat(client, stream=True))  # the upstream sends a comment, then nothing
    await until(lambda: upstream.inflight["keepalive-hang"] == 1, timeout=1)
    request.cancel()  # the client leaves while the sidecar waits for the first event
    await until(lambda: upstream.disconnected["keepalive-hang"] == 1, timeout=1)
    endpoints = await (await client.get("/switchboard/endpoints")).json()
    assert endpoints["endpoints"]["keepalive-hang"]["circuit"] == "closed"
    assert endpoints["endpoints"]["keepalive-hang"]["inflight"] == 0
