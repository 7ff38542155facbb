"""A request that no endpoint of its route could ever serve is the caller's 400, in its own API's shape,
through the official SDKs: never a degraded body shaped for another API (an API that translation can
serve is served). A chat route still degrades as its policy says when its endpoints are merely down."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest

from support.processes import Process
from support.stack import Stack, endpoint, policy, route, start_proxy, write_resources

STATIC = {"mode": "static", "status": 200, "body": {"choices": [{"message": {"content": "later"}}]}}
HELLO = [{"role": "user", "content": "hi"}]
TOOLS = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]


@pytest.fixture(scope="module")
def unservable(sim: Process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Routes of OpenAI chat endpoints without tools, behind a policy that degrades to a static body."""
    documents = [
        endpoint("chat-a", sim.base_url, capabilities=["streaming", "json"]),
        endpoint("down", sim.base_url, url="http://127.0.0.1:9/v1", capabilities=["streaming"]),
        policy("static", degraded=STATIC, retries={"attempts": 0}),
        route("chat", ["chat-a"], fallbackPolicy="static", default=True),
        route("outage", ["down"], fallbackPolicy="static"),
    ]
    resources = write_resources(tmp_path_factory.mktemp("unservable") / "resources", documents)
    proxy = start_proxy(resources=resources)
    try:
        yield Stack(sim=sim, proxy=proxy, resources=resources)
    finally:
        proxy.stop()


def test_embeddings_on_a_route_that_cannot_embed(unservable: Stack) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        unservable.openai().embeddings.create(model="chat", input="def f(): pass")
    error = caught.value
    assert error.status_code == 400 and error.code == "unsupported_by_route"
    assert "route 'chat'" in error.message and "embedding" in error.message
    assert error.response.headers.get("x-switchboard-degraded") is None


def test_tools_on_a_route_without_tools(unservable: Stack) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        unservable.openai().chat.completions.create(model="chat", messages=HELLO, tools=TOOLS)
    assert caught.value.code == "unsupported_by_route" and "lacks tools" in caught.value.message


def test_an_anthropic_request_the_route_cannot_serve_is_refused_in_anthropics_shape(
    unservable: Stack,
) -> None:
    tools = [{"name": "lookup", "input_schema": {"type": "object"}}]
    with pytest.raises(anthropic.BadRequestError) as caught:
        unservable.anthropic().messages.create(model="chat", max_tokens=16, messages=HELLO, tools=tools)
    error = caught.value
    assert error.status_code == 400
    assert error.body["type"] == "error" and error.body["error"]["type"] == "invalid_request_error"
    assert "lacks tools" in error.body["error"]["message"]
    assert unservable.sim_requests("chat-a") == []  # nothing was sent upstream


def test_an_anthropic_request_on_an_openai_route_is_served_through_translation(unservable: Stack) -> None:
    message = unservable.anthropic().messages.create(model="chat", max_tokens=16, messages=HELLO)
    assert message.content[0].text and message.stop_reason == "end_turn"
    assert unservable.sim_requests("chat-a")[-1]["path"] == "/v1/chat/completions"


def test_a_chat_route_whose_endpoints_are_down_still_degrades_as_configured(unservable: Stack) -> None:
    completion = unservable.openai().chat.completions.with_raw_response.create(model="outage", messages=HELLO)
    assert completion.headers["x-switchboard-degraded"] == "true"
    assert completion.parse().choices[0].message.content == "later"
