"""When nothing can serve: the policy's static answer (JSON or SSE), or its 503 with Retry-After."""

from __future__ import annotations

import json

import openai
import pytest
from chains import HELLO, ROUTE, chain_documents, sim_requests

pytestmark = pytest.mark.integration

STATIC_BODY = {
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "Try again later."}, "finish_reason": "stop"}
    ]
}
DOWN = {"primary": {"fault": "error-500"}, "backup": {"fault": "error-503"}}


def _documents(sim_url: str, degraded: dict, **endpoint_specs: dict) -> list[dict]:
    return chain_documents(
        sim_url,
        ["primary"],
        ["backup"],
        policy_spec={"retries": {"attempts": 0}, "degraded": degraded},
        endpoint_specs=endpoint_specs,
    )


def test_static_degraded_answer_as_json(make_stack) -> None:
    degraded = {"mode": "static", "status": 200, "body": STATIC_BODY}
    stack = make_stack(DOWN, _documents(make_stack.sim_url, degraded))
    reply = stack.post("/v1/chat/completions", {"model": ROUTE, "messages": HELLO})
    assert reply.status == 200 and reply.json() == STATIC_BODY
    assert reply.header("X-Switchboard-Degraded") == "true"
    assert reply.header("X-Switchboard-Fallback-Reason") == "server-error"
    assert reply.header("X-Switchboard-Attempts") == "2"
    stats = stack.sim_stats()
    assert sim_requests(stats, "primary") == sim_requests(stats, "backup") == 1
    assert stack.metric("switchboard_degraded_total", route=ROUTE) == 1


def test_static_degraded_answer_is_streamed_when_the_client_streams(make_stack) -> None:
    degraded = {"mode": "static", "status": 200, "body": STATIC_BODY}
    stack = make_stack(DOWN, _documents(make_stack.sim_url, degraded))
    raw = stack.openai().chat.completions.with_raw_response.create(model=ROUTE, messages=HELLO, stream=True)
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert raw.headers["x-switchboard-degraded"] == "true"
    chunks = list(raw.parse())
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "Try again later."
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_static_degraded_answer_with_an_error_status_stays_json(make_stack) -> None:
    body = {"error": {"message": "maintenance", "type": "unavailable", "code": "maintenance", "param": None}}
    degraded = {"mode": "static", "status": 503, "body": body}
    stack = make_stack(DOWN, _documents(make_stack.sim_url, degraded))
    reply = stack.post("/v1/chat/completions", {"model": ROUTE, "messages": HELLO, "stream": True})
    assert reply.status == 503 and reply.json() == body
    assert reply.header("X-Switchboard-Degraded") == "true"


def test_static_degraded_answer_on_the_anthropic_api(make_stack) -> None:
    degraded = {"mode": "static", "status": 200, "body": STATIC_BODY}
    anthropic_spec = {"provider": "anthropic"}
    stack = make_stack(
        DOWN, _documents(make_stack.sim_url, degraded, primary=anthropic_spec, backup=anthropic_spec)
    )
    with stack.anthropic().messages.stream(model=ROUTE, max_tokens=32, messages=HELLO) as events:
        text = "".join(events.text_stream)
    assert text == "Try again later."
    message = stack.anthropic().messages.create(model=ROUTE, max_tokens=32, messages=HELLO)
    assert message.content[0].text == "Try again later."


def test_error_degraded_answer_is_503_with_the_policys_retry_after(make_stack) -> None:
    stack = make_stack(DOWN, _documents(make_stack.sim_url, {"mode": "error", "retryAfterSeconds": 7}))
    with pytest.raises(openai.InternalServerError) as caught:
        stack.openai().chat.completions.create(model=ROUTE, messages=HELLO)
    error = caught.value
    assert error.status_code == 503 and error.response.headers["retry-after"] == "7"
    assert error.body["code"] == "all_endpoints_failed"
    assert "primary: server-error (HTTP 500)" in error.body["message"]
    assert "backup: overloaded (HTTP 503)" in error.body["message"]


def test_a_request_no_endpoint_could_ever_serve_is_a_400_not_a_degraded_answer(make_stack) -> None:
    no_tools = {"capabilities": ["streaming"]}
    documents = _documents(
        make_stack.sim_url, {"mode": "static", "status": 200}, primary=no_tools, backup=no_tools
    )
    stack = make_stack({"primary": {}, "backup": {}}, documents)
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    reply = stack.post("/v1/chat/completions", {"model": ROUTE, "messages": HELLO, "tools": tools})
    error = json.loads(reply.body)["error"]
    assert reply.status == 400 and reply.header("X-Switchboard-Degraded") is None
    assert error["type"] == "invalid_request_error" and error["code"] == "unsupported_by_route"
    assert f"route '{ROUTE}'" in error["message"] and "lacks tools" in error["message"]
    stats = stack.sim_stats()
    assert sim_requests(stats, "primary") == sim_requests(stats, "backup") == 0


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_static_degraded_answer_on_the_completions_api_is_a_text_completion(make_stack, stream: bool) -> None:
    degraded = {"mode": "static", "status": 200, "body": STATIC_BODY}
    stack = make_stack(DOWN, _documents(make_stack.sim_url, degraded))
    response = stack.openai().completions.create(model=ROUTE, prompt="def add(a, b):", stream=stream)
    choices = [c.choices[0] for c in response] if stream else response.choices
    assert "".join(choice.text for choice in choices) == "Try again later."
    assert choices[-1].finish_reason == "stop"
