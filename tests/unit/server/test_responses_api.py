"""POST /v1/responses on a real app and the fake upstream, on fake time: the first-event gate of the
Responses API, failures after output, requests only native endpoints can serve, the degraded answer in
the API's shape, and usage the sidecar has to estimate."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from support.builders import endpoint, policy, route
from support.stack import read_metric

pytestmark = pytest.mark.looptime

NATIVE = ["responses", "streaming", "tools"]
EVENT = TypeAdapter(ResponseStreamEvent)
STATIC = {"mode": "static", "status": 200, "body": {"choices": [{"message": {"content": "later"}}]}}


def documents(upstream: Any, pool: list[str], chain: list[str] = (), **policy_spec: Any) -> list[Any]:  # type: ignore[assignment]
    names = dict.fromkeys([*pool, *chain])
    return [
        *(endpoint(name, upstream.url, capabilities=NATIVE) for name in names),
        policy("p", chain=list(chain), retries={"attempts": 0}, **policy_spec),
        route("r", pool, fallbackPolicy="p", default=True),
    ]


def events_of(text: str) -> list[dict[str, Any]]:
    """The data of each SSE event (every one must carry an `event:` line naming its type)."""
    found = []
    for block in filter(None, text.split("\n\n")):
        lines = block.split("\n")
        name = next(line[7:] for line in lines if line.startswith("event: "))
        data = json.loads(next(line[6:] for line in lines if line.startswith("data: ")))
        assert data["type"] == name
        found.append(data)
    return found


async def stream(client: Any, **body: Any) -> Any:
    return await client.post("/v1/responses", json={"model": "r", "input": "hi", "stream": True, **body})


@pytest.mark.parametrize("model", ["responses-error", "responses-failed"])
async def test_a_failure_after_response_created_before_output_fails_over_invisibly(
    upstream, sidecar, model
) -> None:
    client = await sidecar(documents(upstream, [model], ["ok"]))
    response = await stream(client)
    assert response.status == 200
    assert response.headers["X-Switchboard-Endpoint"] == "ok"
    assert response.headers["X-Switchboard-Fallback-Reason"] == "server-error"
    events = events_of(await response.text())
    assert [e["type"] for e in events][-1] == "response.completed"
    assert {e["response"]["model"] for e in events if "response" in e} == {"ok"}  # nothing of the first
    assert upstream.requests[model] == 1 and upstream.requests["ok"] == 1


async def test_a_failure_after_output_is_passed_on_and_counted(upstream, sidecar) -> None:
    client = await sidecar(documents(upstream, ["responses-fails-after-output"], ["ok"]))
    response = await stream(client)
    events = events_of(await response.text())
    assert [e["type"] for e in events][-2:] == ["response.output_text.delta", "response.failed"]
    assert upstream.requests["ok"] == 0  # the client has the first endpoint's words: no continuation
    metrics = (await (await client.get("/metrics")).read()).decode()
    outcome = {"endpoint": "responses-fails-after-output", "outcome": "midstream-failure"}
    assert read_metric(metrics, "switchboard_attempts_total", **outcome) == 1


async def test_a_translated_stream_that_breaks_ends_with_the_responses_error_event(upstream, sidecar) -> None:
    docs = [
        endpoint("no-done", upstream.url),
        policy("p", retries={"attempts": 0}),
        route("r", ["no-done"], fallbackPolicy="p", default=True),
    ]
    client = await sidecar(docs)
    response = await stream(client)
    events = events_of(await response.text())
    assert events[0]["type"] == "response.created" and events[-1]["type"] == "error"
    assert "after the stream started" in events[-1]["message"]
    for event in events:
        EVENT.validate_python(event)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"previous_response_id": "resp_1"}, id="previous-response-id"),
        pytest.param({"store": True}, id="store"),
        pytest.param({"tools": [{"type": "web_search"}]}, id="built-in-tool"),
    ],
)
async def test_state_or_built_in_tools_on_a_chat_only_route_is_a_clear_400(upstream, sidecar, body) -> None:
    docs = [endpoint("ok", upstream.url), route("r", ["ok"], default=True)]
    client = await sidecar(docs)
    response = await client.post("/v1/responses", json={"model": "r", "input": "hi", **body})
    error = (await response.json())["error"]
    assert response.status == 400 and error["code"] == "unsupported_by_route"
    assert "lacks responses" in error["message"] and upstream.requests["ok"] == 0


async def test_state_is_passed_through_to_a_native_endpoint(upstream, sidecar) -> None:
    client = await sidecar(documents(upstream, ["ok"]))
    body = {"model": "r", "input": "hi", "previous_response_id": "resp_1", "store": True}
    response = await client.post("/v1/responses", json=body)
    assert response.status == 200
    sent = upstream.received[-1]
    assert (
        sent.path == "/v1/responses" and sent.body["previous_response_id"] == "resp_1" and sent.body["store"]
    )
    assert (await response.json())["output"][0]["content"][0]["text"] == "hi"  # passed through as it is


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
async def test_the_static_degraded_answer_is_a_response(upstream, sidecar, streamed) -> None:
    client = await sidecar(documents(upstream, ["error-500"], degraded=STATIC))
    response = await client.post("/v1/responses", json={"model": "r", "input": "hi", "stream": streamed})
    assert response.status == 200 and response.headers["X-Switchboard-Degraded"] == "true"
    if streamed:
        events = events_of(await response.text())
        for event in events:
            EVENT.validate_python(event)
        final = Response.model_validate(events[-1]["response"])
    else:
        final = Response.model_validate(await response.json())
    assert final.output_text == "later" and final.status == "completed"


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
async def test_usage_an_upstream_does_not_report_is_estimated_and_counted(
    upstream, sidecar, streamed
) -> None:
    docs = [endpoint("no-usage", upstream.url), route("r", ["no-usage"], default=True)]
    client = await sidecar(docs)
    body = {"model": "r", "messages": [{"role": "user", "content": "x" * 400}], "stream": streamed}
    response = await client.post("/v1/chat/completions", json=body)
    assert response.status == 200
    await response.read()
    metrics = (await (await client.get("/metrics")).read()).decode()
    labels = {"route": "r", "endpoint": "no-usage"}
    assert read_metric(metrics, "switchboard_tokens_estimated_total", kind="prompt", **labels) >= 100
    assert read_metric(metrics, "switchboard_tokens_estimated_total", kind="completion", **labels) >= 1
    assert read_metric(metrics, "switchboard_tokens_total", kind="prompt", **labels) >= 100
