"""check_body: the mistakes that would confuse routing become a 400 naming the parameter."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from switchboard_proxy.routing.request import Api
from switchboard_proxy.server.bodies import check_body, wants_usage
from switchboard_proxy.server.errors import BadRequest

USER = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("api", "body", "param", "code"),
    [
        pytest.param("chat", {}, "messages", "missing_required_parameter", id="chat-no-messages"),
        pytest.param("chat", {"messages": None}, "messages", "missing_required_parameter", id="chat-null"),
        pytest.param("chat", {"messages": "hi"}, "messages", "invalid_type", id="chat-messages-string"),
        pytest.param("chat", {"messages": {}}, "messages", "invalid_type", id="chat-messages-object"),
        pytest.param("chat", {"messages": []}, "messages", "invalid_type", id="chat-messages-empty"),
        pytest.param("chat", {"messages": ["hi"]}, "messages[0]", "invalid_type", id="chat-message-string"),
        pytest.param("chat", {"messages": [*USER, 3]}, "messages[1]", "invalid_type", id="chat-second-bad"),
        pytest.param("chat", {"messages": [{}]}, "messages[0].role", "invalid_type", id="chat-no-role"),
        pytest.param("chat", {"messages": [{"role": 1}]}, "messages[0].role", "invalid_type", id="role-int"),
        pytest.param("chat", {"messages": USER, "model": 42}, "model", "invalid_type", id="model-int"),
        pytest.param("chat", {"messages": USER, "model": ["m"]}, "model", "invalid_type", id="model-list"),
        pytest.param("chat", {"messages": USER, "stream": "yes"}, "stream", "invalid_type", id="stream-str"),
        pytest.param("chat", {"messages": USER, "stream": 1}, "stream", "invalid_type", id="stream-int"),
        pytest.param(
            "chat", {"messages": USER, "max_tokens": -1}, "max_tokens", "invalid_type", id="max-neg"
        ),
        pytest.param(
            "chat", {"messages": USER, "max_tokens": 0}, "max_tokens", "invalid_type", id="max-zero"
        ),
        pytest.param(
            "chat", {"messages": USER, "max_tokens": 1.5}, "max_tokens", "invalid_type", id="max-float"
        ),
        pytest.param(
            "chat", {"messages": USER, "max_tokens": True}, "max_tokens", "invalid_type", id="max-bool"
        ),
        pytest.param(
            "chat",
            {"messages": USER, "max_completion_tokens": "9"},
            "max_completion_tokens",
            "invalid_type",
            id="max-completion-str",
        ),
        pytest.param("chat", {"messages": USER, "n": 0}, "n", "invalid_type", id="n-zero"),
        pytest.param(
            "chat", {"messages": USER, "stream_options": True}, "stream_options", "invalid_type", id="options"
        ),
        pytest.param("completions", {}, "prompt", "missing_required_parameter", id="completions-no-prompt"),
        pytest.param("completions", {"prompt": 5}, "prompt", "invalid_type", id="completions-prompt-int"),
        pytest.param("embeddings", {}, "input", "missing_required_parameter", id="embeddings-no-input"),
        pytest.param("embeddings", {"input": {"a": 1}}, "input", "invalid_type", id="embeddings-input-obj"),
        pytest.param(
            "embeddings", {"input": "x", "stream": True}, "stream", "invalid_value", id="embeddings-stream"
        ),
        pytest.param("messages", {"max_tokens": 5}, "messages", "missing_required_parameter", id="msg-none"),
        pytest.param(
            "messages", {"messages": [{"content": "x"}]}, "messages[0].role", "invalid_type", id="msg-role"
        ),
    ],
)
def test_bad_bodies_name_the_parameter(api: Api, body: dict[str, Any], param: str, code: str) -> None:
    with pytest.raises(BadRequest) as caught:
        check_body(api, body)
    assert caught.value.param == param
    assert caught.value.code == code
    assert caught.value.status == 400 and caught.value.message


@pytest.mark.parametrize(
    ("api", "body"),
    [
        pytest.param("chat", {"messages": USER}, id="chat-minimal"),
        pytest.param(
            "chat", {"messages": USER, "model": "m", "stream": True, "max_tokens": 5, "n": 1}, id="chat"
        ),
        pytest.param("chat", {"messages": USER, "unknown_new_field": {"x": [1]}}, id="unknown-fields-pass"),
        pytest.param("chat", {"messages": USER, "stream": False, "stream_options": {}}, id="stream-false"),
        pytest.param("completions", {"prompt": "def f():"}, id="completions-string"),
        pytest.param("completions", {"prompt": ["a", "b"]}, id="completions-list"),
        pytest.param("embeddings", {"input": [1, 2, 3]}, id="embeddings-token-ids"),
        pytest.param("messages", {"messages": USER, "max_tokens": 5, "system": "be brief"}, id="messages"),
    ],
)
def test_good_bodies_pass(api: Api, body: dict[str, Any]) -> None:
    check_body(api, body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, False),
        ({"stream_options": {"include_usage": True}}, True),
        ({"stream_options": {"include_usage": False}}, False),
        ({"stream_options": {"include_usage": "true"}}, False),
        ({"stream_options": None}, False),
    ],
)
def test_wants_usage(body: dict[str, Any], expected: bool) -> None:
    assert wants_usage(body) is expected


@pytest.mark.looptime
async def test_a_body_that_does_not_arrive_in_time_is_a_408(upstream, sidecar) -> None:
    from support.builders import endpoint, route

    client = await sidecar([endpoint("ok", upstream.url), route("r", ["ok"], default=True)])

    async def dribble():  # the first bytes at once, then nothing for a minute of loop time
        yield b'{"model": "r", "messages": ['
        await asyncio.sleep(60)
        yield b"]}"

    response = await client.post(
        "/v1/chat/completions", data=dribble(), headers={"Content-Type": "application/json"}
    )
    body = await response.json()
    assert response.status == 408 and body["error"]["code"] == "body_timeout"
    assert response.headers.get("Connection", "").lower() == "close"
    assert upstream.requests == {}


def test_depth_of_counts_objects_and_arrays_without_recursion() -> None:
    from switchboard_proxy.server.bodies import depth_of

    assert depth_of({}) == 1 and depth_of({"a": [1, {"b": []}]}) == 4 and depth_of("x") == 0
    deep: Any = []
    for _ in range(10_000):
        deep = [deep]
    assert depth_of(deep) == 10_001
