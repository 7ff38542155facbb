"""Which route a request gets, what its hints do, and the headers that say what happened.

Route selection, first rule that applies: X-Switchboard-Route; body `model` equal to a route name; a
`match.models` alias; X-Switchboard-Task; the default route; else 404 `model_not_found`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sidecars import access_log_entry, chat_body

from support.processes import Process
from support.stack import Stack, endpoint, route, start_proxy, write_resources

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

ROUTE, TASK = "X-Switchboard-Route", "X-Switchboard-Task"


@pytest.mark.parametrize(
    ("headers", "model", "expected"),
    [
        pytest.param({ROUTE: "summarize", TASK: "chat"}, "chat", "summarize", id="route-header-beats-model"),
        pytest.param({TASK: "summarize"}, "chat", "chat", id="model-equal-route-name-beats-task"),
        pytest.param({TASK: "summarize"}, "gpt-4o-mini", "chat", id="model-alias-beats-task"),
        pytest.param({TASK: "summarize"}, "no-such-model", "summarize", id="task-beats-default"),
        pytest.param({TASK: "no-such-task"}, "no-such-model", "chat", id="default-route-catches-the-rest"),
        pytest.param({}, "embed-not", "chat", id="default-without-hints"),
    ],
)
def test_route_selection_order(stack: Stack, headers: dict[str, str], model: str, expected: str) -> None:
    reply = stack.post("/v1/chat/completions", chat_body(model), headers=headers)
    assert reply.status == 200, reply.body
    assert reply.header("X-Switchboard-Route") == expected


def test_unknown_route_header_is_404_even_when_the_model_matches(stack: Stack) -> None:
    reply = stack.post("/v1/chat/completions", chat_body("chat"), headers={ROUTE: "nope"})
    assert reply.status == 404
    error = reply.json()["error"]
    assert error["code"] == "model_not_found" and error["type"] == "invalid_request_error"
    assert "nope" in error["message"]


@pytest.fixture(scope="module")
def no_default_stack(sim: Process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    documents = [endpoint("chat-a", sim.base_url), route("only", ["chat-a"], match={"taskTypes": ["t"]})]
    resources = write_resources(tmp_path_factory.mktemp("no-default"), documents)
    proxy = start_proxy(resources=resources)
    try:
        yield Stack(sim=sim, proxy=proxy, resources=resources)
    finally:
        proxy.stop()


def test_no_matching_route_and_no_default_is_404_model_not_found(no_default_stack: Stack) -> None:
    import openai

    client = no_default_stack.openai()
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="gpt-unknown", messages=[{"role": "user", "content": "x"}])
    body: Any = caught.value.body
    assert body["code"] == "model_not_found" and body["param"] == "model"
    assert set(caught.value.response.json()["error"]) == {"message", "type", "code", "param"}
    assert "gpt-unknown" in body["message"]
    reply = no_default_stack.post("/v1/chat/completions", chat_body("x"), headers={TASK: "t"})
    assert reply.status == 200 and reply.header("X-Switchboard-Route") == "only"


@pytest.mark.parametrize("value", ["abc", "0", "-5", "1.5", "99999999", "\u00b2", "12345678"])
def test_bad_deadline_header_is_400_naming_the_header(stack: Stack, value: str) -> None:
    reply = stack.post("/v1/chat/completions", chat_body(), headers={"X-Switchboard-Deadline-Ms": value})
    assert reply.status == 400, reply.body
    error = reply.json()["error"]
    assert error["param"] == "X-Switchboard-Deadline-Ms" and error["code"] == "invalid_header"
    assert stack.sim_stats()["chat-a"]["requests"] == 0  # refused before anything went upstream


def test_good_deadline_header_is_accepted(stack: Stack) -> None:
    reply = stack.post("/v1/chat/completions", chat_body(), headers={"X-Switchboard-Deadline-Ms": "5000"})
    assert reply.status == 200


def test_bad_priority_header_is_400_naming_the_header(stack: Stack) -> None:
    reply = stack.post("/v1/chat/completions", chat_body(), headers={"X-Switchboard-Priority": "urgent"})
    assert reply.status == 400
    assert reply.json()["error"]["param"] == "X-Switchboard-Priority"


@pytest.mark.parametrize(
    ("asked", "effective"),
    [
        pytest.param(None, "standard", id="route-default"),
        pytest.param("sheddable", "sheddable", id="lowered"),
        pytest.param("critical", "standard", id="never-raised"),
        pytest.param("Standard", "standard", id="case-insensitive"),
    ],
)
def test_priority_hint_may_only_lower_the_routes_priority(
    stack: Stack, asked: str | None, effective: str
) -> None:
    request_id = f"prio-{uuid.uuid4().hex}"
    headers = {"X-Request-Id": request_id} | ({"X-Switchboard-Priority": asked} if asked else {})
    assert stack.post("/v1/chat/completions", chat_body(), headers=headers).status == 200
    assert access_log_entry(stack.proxy, request_id)["priority"] == effective


def test_request_id_is_echoed_on_json_streams_and_errors(stack: Stack) -> None:
    for body, expected_status in ((chat_body(), 200), (chat_body(stream=True), 200), ({"model": 1}, 400)):
        reply = stack.post("/v1/chat/completions", body, headers={"X-Request-Id": "req-42.a:b_c"})
        assert reply.status == expected_status
        assert reply.header("X-Request-Id") == "req-42.a:b_c"
    assert access_log_entry(stack.proxy, "req-42.a:b_c")["route"] in ("chat", "none")


@pytest.mark.parametrize(
    "weird",
    [
        pytest.param("has spaces in it", id="spaces"),
        pytest.param("x" * 200, id="too-long"),
        pytest.param('inject"},{"status":1', id="json-breaking"),
        pytest.param("ümlaut", id="non-ascii"),
    ],
)
def test_weird_request_id_is_replaced_by_a_generated_one(stack: Stack, weird: str) -> None:
    headers = {"X-Request-Id": weird.encode("utf-8").decode("latin-1")}
    reply = stack.post("/v1/chat/completions", chat_body(), headers=headers)
    assert reply.status == 200
    given = reply.header("X-Request-Id")
    assert given and re.fullmatch(r"[0-9a-f]{32}", given)
    access_log_entry(stack.proxy, given)  # the line is written (the access log is flushed every 100 ms)
    assert weird not in stack.proxy.log_text()


def test_request_id_is_generated_when_absent_and_unique(stack: Stack) -> None:
    ids = {stack.post("/v1/chat/completions", chat_body()).header("X-Request-Id") for _ in range(5)}
    assert len(ids) == 5 and all(i and re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_request_id_is_propagated_upstream(stack: Stack) -> None:
    stack.post("/v1/chat/completions", chat_body(), headers={"X-Request-Id": "upstream-bound-1"})
    assert stack.sim_requests("chat-a")[-1]["headers"].get("x-request-id") == "upstream-bound-1"


def test_user_header_is_the_sticky_key_and_body_user_the_fallback(stack: Stack) -> None:
    seen: dict[str, str] = {}
    for index in range(24):
        user = f"user-{index}"
        variants = {
            stack.post("/v1/chat/completions", chat_body("exp"), headers={"X-Switchboard-User": user}).header(
                "X-Switchboard-Variant"
            )
            for _ in range(3)
        }
        variants.add(
            stack.post("/v1/chat/completions", chat_body("exp", user=user)).header("X-Switchboard-Variant")
        )
        assert len(variants) == 1, (user, variants)
        seen[user] = variants.pop() or ""
    assert set(seen.values()) == {"control", "candidate"}
    # The header wins over the body's user: a user mapped to each variant, crossed.
    control = next(u for u, v in seen.items() if v == "control")
    candidate = next(u for u, v in seen.items() if v == "candidate")
    reply = stack.post(
        "/v1/chat/completions", chat_body("exp", user=candidate), headers={"X-Switchboard-User": control}
    )
    assert reply.header("X-Switchboard-Variant") == "control"
    assert reply.header("X-Switchboard-Endpoint") == "chat-a"


def test_response_headers_on_json_and_stream(stack: Stack) -> None:
    names = ("X-Request-Id", "X-Switchboard-Route", "X-Switchboard-Variant", "X-Switchboard-Endpoint")
    json_reply = stack.post("/v1/chat/completions", chat_body("exp"), headers={"X-Switchboard-User": "u1"})
    stream_reply = stack.post(
        "/v1/chat/completions", chat_body("exp", stream=True), headers={"X-Switchboard-User": "u1"}
    )
    for reply in (json_reply, stream_reply):
        assert reply.status == 200
        assert all(reply.header(name) for name in names), reply.headers
        assert reply.header("X-Switchboard-Attempts") == "1"
        assert reply.header("X-Switchboard-Route") == "exp"
    assert json_reply.header("X-Switchboard-Variant") == stream_reply.header("X-Switchboard-Variant")
    assert float(json_reply.header("X-Switchboard-Cost-Usd") or "nan") >= 0
    assert stream_reply.header("X-Switchboard-Cost-Usd") is None
    assert stream_reply.header("Content-Type") == "text/event-stream"
    assert stream_reply.body.rstrip().endswith(b"data: [DONE]")


def test_fallback_reason_header_when_the_first_choice_failed(stack: Stack) -> None:
    stack.fault("chat-a", fault="error-500", fail_count=1)
    reply = stack.post("/v1/chat/completions", chat_body())
    assert reply.status == 200
    assert reply.header("X-Switchboard-Endpoint") == "chat-b"
    assert reply.header("X-Switchboard-Fallback-Reason") == "server-error"
    assert reply.header("X-Switchboard-Attempts") == "2"
