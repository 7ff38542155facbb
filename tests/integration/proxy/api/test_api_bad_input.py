"""Bad input gets a clear OpenAI-shaped 4xx, never a 500, a traceback, or a request upstream.

One sidecar with `--max-body-bytes 1024`, so the 413 path is cheap to reach. Raw HTTP (urllib and plain
sockets) because the SDKs refuse to send most of these.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sidecars import chat_body

from support import rawhttp
from support.processes import Process
from support.stack import Reply, Stack, endpoint, http, route, start_proxy, write_resources

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

OPENAI_ERROR_KEYS = {"message", "type", "code", "param"}
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture(scope="module")
def small(sim: Process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    documents = [
        endpoint("chat-a", sim.base_url),
        endpoint("claude-ep", sim.base_url, provider="anthropic"),
        endpoint("emb", sim.base_url, capabilities=["embeddings"]),
        route("chat", ["chat-a"], default=True),
        route("claude", ["claude-ep"]),
        route("embed", ["emb"]),
    ]
    resources = write_resources(tmp_path_factory.mktemp("small"), documents)
    proxy = start_proxy(resources=resources, args=["--max-body-bytes", "1024"])
    try:
        yield Stack(sim=sim, proxy=proxy, resources=resources)
    finally:
        proxy.stop()


def assert_openai_error(
    reply: Reply, status: int, *, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    assert reply.status == status, reply.body
    assert (reply.header("Content-Type") or "").startswith("application/json")
    document = reply.json()
    error = document["error"]
    assert set(error) == OPENAI_ERROR_KEYS
    assert isinstance(error["message"], str) and error["message"]
    assert error["type"] == "invalid_request_error"
    if param is not None:
        assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    assert b"Traceback" not in reply.body and b'File "' not in reply.body
    return dict(document)


def assert_clean_log(stack: Stack) -> None:
    log = stack.proxy.log_text()
    assert "Traceback" not in log
    assert " 500" not in log and '"status":500' not in log


@pytest.mark.parametrize(
    ("raw", "param", "code"),
    [
        pytest.param(b"{bad json", None, "invalid_json", id="malformed-json"),
        pytest.param(b"[1, 2]", None, "invalid_json", id="json-array"),
        pytest.param(b'"just a string"', None, "invalid_json", id="json-string"),
        pytest.param(b"", None, "invalid_json", id="empty-body"),
        pytest.param(b'{"model": "\xff\xfe", "messages": []}', None, "invalid_json", id="invalid-utf8"),
        pytest.param(b"\xef\xbb\xbf{}", None, "invalid_json", id="utf8-bom"),
        pytest.param(b"{}", "messages", "missing_required_parameter", id="missing-messages"),
        pytest.param(b'{"messages": "hi"}', "messages", "invalid_type", id="messages-not-a-list"),
        pytest.param(b'{"messages": []}', "messages", "invalid_type", id="messages-empty"),
        pytest.param(b'{"messages": [42]}', "messages[0]", "invalid_type", id="message-not-an-object"),
        pytest.param(b'{"messages": [{"content": "x"}]}', "messages[0].role", "invalid_type", id="no-role"),
        pytest.param(
            b'{"model": 42, "messages": [{"role": "user"}]}', "model", "invalid_type", id="model-42"
        ),
        pytest.param(
            b'{"messages": [{"role": "user"}], "stream": "yes"}', "stream", "invalid_type", id="stream-yes"
        ),
        pytest.param(
            b'{"messages": [{"role": "user"}], "max_tokens": -1}', "max_tokens", "invalid_type", id="max-neg"
        ),
        pytest.param(
            b'{"messages": [{"role": "user"}], "max_tokens": "10"}',
            "max_tokens",
            "invalid_type",
            id="max-str",
        ),
        pytest.param(
            b'{"messages": [{"role": "user"}], "max_tokens": true}',
            "max_tokens",
            "invalid_type",
            id="max-bool",
        ),
        pytest.param(b'{"messages": [{"role": "user"}], "n": 0}', "n", "invalid_type", id="n-zero"),
        pytest.param(
            b'{"messages": [{"role": "user"}], "stream_options": 1}',
            "stream_options",
            "invalid_type",
            id="opts",
        ),
    ],
)
def test_bad_chat_bodies(small: Stack, raw: bytes, param: str | None, code: str) -> None:
    reply = small.post("/v1/chat/completions", raw=raw)
    assert_openai_error(reply, 400, param=param, code=code)
    assert reply.header("X-Request-Id")
    assert small.sim_stats()["chat-a"]["requests"] == 0
    assert_clean_log(small)


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        pytest.param("/v1/completions", {"model": "chat"}, "prompt", id="completions-no-prompt"),
        pytest.param("/v1/completions", {"prompt": {"a": 1}}, "prompt", id="completions-prompt-object"),
        pytest.param("/v1/embeddings", {"model": "embed"}, "input", id="embeddings-no-input"),
        pytest.param(
            "/v1/embeddings", {"model": "embed", "input": "x", "stream": True}, "stream", id="emb-stream"
        ),
    ],
)
def test_bad_bodies_of_the_other_openai_apis(
    small: Stack, path: str, body: dict[str, Any], param: str
) -> None:
    assert_openai_error(small.post(path, body), 400, param=param)
    assert_clean_log(small)


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        pytest.param(b"{oops", 400, id="malformed"),
        pytest.param(b'{"model": "claude", "max_tokens": 5}', 400, id="missing-messages"),
        pytest.param(json.dumps({"model": "claude", "x": "a" * 2000}).encode(), 413, id="too-large"),
    ],
)
def test_messages_errors_have_the_anthropic_top_level_type(small: Stack, raw: bytes, status: int) -> None:
    reply = small.post("/v1/messages", raw=raw)
    assert reply.status == status
    document = reply.json()
    assert document["type"] == "error"
    assert {"message", "type"} <= set(document["error"])
    assert b"Traceback" not in reply.body


def test_anthropic_sdk_raises_its_own_error_class_for_sidecar_errors(small: Stack) -> None:
    import anthropic

    with pytest.raises(anthropic.BadRequestError) as caught:
        small.anthropic().messages.create(model="claude", max_tokens=5, messages=[])
    assert caught.value.body["type"] == "error"  # type: ignore[index]


def test_oversized_body_is_413(small: Stack) -> None:
    reply = small.post("/v1/chat/completions", chat_body(padding="a" * 2000))
    assert_openai_error(reply, 413, code="request_too_large")
    assert "1024" in reply.json()["error"]["message"]
    assert small.post("/v1/chat/completions", chat_body()).status == 200  # just under the limit is fine


def test_oversized_chunked_body_is_413(small: Stack) -> None:
    head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, body = raw_exchange(small, head + b"800\r\n" + b"a" * 0x800 + b"\r\n0\r\n\r\n")
    assert status == 413
    assert json.loads(body)["error"]["code"] == "request_too_large"


def test_huge_header_is_a_json_4xx_without_echo_or_traceback(small: Stack) -> None:
    secret = "sk-client-HEADER-" + "z" * 9000
    body = json.dumps(chat_body()).encode()
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {secret}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    status, answer = raw_exchange(small, head + body)
    assert 400 <= status < 500
    error = json.loads(answer)["error"]
    assert set(error) == OPENAI_ERROR_KEYS
    assert "zzzz" not in error["message"] and b"sk-client" not in answer
    log = small.proxy.log_text()
    assert "sk-client-HEADER" not in log and "zzzz" not in log
    assert_clean_log(small)


def test_garbage_request_line_is_a_json_400(small: Stack) -> None:
    status, answer = raw_exchange(small, b"NOT HTTP AT ALL\r\n\r\n")
    assert status == 400
    assert set(json.loads(answer)["error"]) == OPENAI_ERROR_KEYS
    assert_clean_log(small)


def test_unknown_path_is_404_and_wrong_method_is_405(small: Stack) -> None:
    assert_openai_error(small.post("/v1/chat/nothing", chat_body()), 404, code="not_found")
    assert_openai_error(http("GET", small.url + "/v1/chat/completions"), 405, code="method_not_allowed")
    assert_openai_error(http("DELETE", small.url + "/v1/models"), 405)
    assert_openai_error(http("GET", small.url + "/v1/feedback"), 405)
    assert_clean_log(small)


def raw_exchange(stack: Stack, request: bytes) -> tuple[int, bytes]:
    """Send raw bytes, read the whole answer (the sidecar closes after an error), return status and body."""
    reply = rawhttp.raw_exchange(stack.url, request, timeout=5)
    return reply.status, reply.body
