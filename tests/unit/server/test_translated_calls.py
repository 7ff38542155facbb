"""Calls translated to their endpoint's API, on a real app and the fake upstream, on fake time: the
upstream's errors reach the caller in its own API's shape (the status and the classification stay the
upstream's), a request the endpoint's API cannot express is the caller's 400, and the cached-token share
per endpoint is worked out from the token counters."""

from __future__ import annotations

import pytest

from support.builders import endpoint, route
from support.stack import read_metric

pytestmark = pytest.mark.looptime

HELLO = [{"role": "user", "content": "hi"}]


async def test_an_openai_endpoints_400_reaches_an_anthropic_caller_in_anthropics_shape(
    upstream, sidecar
) -> None:
    client = await sidecar([endpoint("bad-request", upstream.url), route("r", ["bad-request"], default=True)])
    response = await client.post("/v1/messages", json={"model": "r", "max_tokens": 5, "messages": HELLO})
    document = await response.json()
    assert response.status == 400
    assert document == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": "max_tokens: Field required"},
    }
    assert upstream.received[-1].path == "/v1/chat/completions"


async def test_a_request_the_endpoints_api_cannot_express_is_the_callers_400(upstream, sidecar) -> None:
    client = await sidecar([endpoint("ok", upstream.url), route("r", ["ok"], default=True)])
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}}
    body = {"model": "r", "max_tokens": 5, "messages": [{"role": "user", "content": [document]}]}
    response = await client.post("/v1/messages", json=body)
    error = await response.json()
    assert response.status == 400 and error["type"] == "error"
    assert "cannot be sent to a chat endpoint" in error["error"]["message"]
    assert upstream.requests["ok"] == 0  # refused before anything was sent


async def test_the_anthropic_callers_tool_calls_come_back_as_tool_use(upstream, sidecar) -> None:
    client = await sidecar([endpoint("ok", upstream.url), route("r", ["ok"], default=True)])
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    body = {"model": "r", "max_tokens": 5, "messages": HELLO, "tools": tools, "tool_choice": {"type": "any"}}
    response = await client.post("/v1/messages", json=body)
    assert response.status == 200
    sent = upstream.received[-1].body
    assert sent["tool_choice"] == "required" and sent["tools"][0]["function"]["name"] == "f"


async def test_the_cached_token_share_per_endpoint(upstream, sidecar) -> None:
    client = await sidecar([endpoint("ok", upstream.url), route("r", ["ok"], default=True)])
    assert (await client.post("/v1/chat/completions", json={"model": "r", "messages": HELLO})).status == 200
    metrics = (await (await client.get("/metrics")).read()).decode()
    # The fake reports 3 prompt tokens, none of them cached.
    assert 'switchboard_cached_token_share{endpoint="ok"} 0.0' in metrics
    assert read_metric(metrics, "switchboard_tokens_total", endpoint="ok", kind="prompt") == 3
