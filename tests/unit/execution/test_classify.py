"""classify(): every upstream failure maps to exactly one failure kind (a Trigger or client-error)."""

from __future__ import annotations

import aiohttp
import pytest

from switchboard_proxy.execution.classify import (
    NOT_ENDPOINT_FAULTS,
    classify_exception,
    classify_status,
    classify_stream_error,
    is_context_length_error,
)

OPENAI_CONTEXT = {
    "error": {
        "message": "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
ANTHROPIC_CONTEXT = {
    "type": "error",
    "error": {
        "type": "invalid_request_error",
        "message": "prompt is too long: 208000 tokens > 200000 maximum",
    },
}
VLLM_CONTEXT = {
    "object": "error",
    "message": "This model's maximum context length is 4096 tokens. However, you requested 5000 tokens.",
    "type": "BadRequestError",
    "param": None,
    "code": 400,
}
LLAMA_CPP_CONTEXT = {
    "error": {
        "code": 400,
        "message": "request (4476 tokens) exceeds the available context size (4096 tokens)",
        "type": "exceed_context_size_error",
    }
}
TGI_CONTEXT = {
    "error": "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 "
    "`inputs` tokens and 200 `max_new_tokens`",
    "error_type": "validation",
}
INVALID = {"error": {"message": "max_tokens: Field required", "type": "invalid_request_error"}}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        pytest.param(200, None, None, id="200-ok"),
        pytest.param(204, None, None, id="other-2xx-is-no-failure-kind"),
        pytest.param(429, None, "rate-limited", id="429"),
        pytest.param(503, None, "overloaded", id="503"),
        pytest.param(529, None, "overloaded", id="529-anthropic-overloaded"),
        pytest.param(408, None, "timeout", id="408"),
        pytest.param(500, None, "server-error", id="500"),
        pytest.param(502, None, "server-error", id="502"),
        pytest.param(504, None, "server-error", id="504-from-a-gateway-upstream"),
        pytest.param(401, None, "server-error", id="401-wrong-key-is-the-endpoints-fault"),
        pytest.param(403, None, "server-error", id="403"),
        pytest.param(404, None, "server-error", id="404-wrong-model-id"),
        pytest.param(500, OPENAI_CONTEXT, "server-error", id="500-wins-over-a-context-message"),
        pytest.param(400, OPENAI_CONTEXT, "context-length", id="400-openai-context"),
        pytest.param(400, ANTHROPIC_CONTEXT, "context-length", id="400-anthropic-context"),
        pytest.param(400, VLLM_CONTEXT, "context-length", id="400-vllm-context"),
        pytest.param(400, LLAMA_CPP_CONTEXT, "context-length", id="400-llama-cpp-context"),
        pytest.param(422, TGI_CONTEXT, "context-length", id="422-tgi-context"),
        pytest.param(413, OPENAI_CONTEXT, "context-length", id="413-context"),
        pytest.param(400, INVALID, "client-error", id="400-invalid"),
        pytest.param(400, None, "client-error", id="400-without-a-body"),
        pytest.param(400, "not json", "client-error", id="400-non-json"),
        pytest.param(422, {"detail": [{"msg": "field required"}]}, "client-error", id="422-validation"),
        pytest.param(409, None, "client-error", id="409"),
    ],
)
def test_classify_status(status, body, expected) -> None:
    assert classify_status(status, body) == expected


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        pytest.param(TimeoutError(), "timeout", id="asyncio-timeout"),
        pytest.param(TimeoutError(), "timeout", id="asyncio-TimeoutError-alias"),
        pytest.param(aiohttp.ServerTimeoutError("read"), "timeout", id="read-timeout"),
        pytest.param(aiohttp.SocketTimeoutError("read"), "timeout", id="socket-read-timeout"),
        pytest.param(aiohttp.ConnectionTimeoutError("connect"), "connect-error", id="connect-timeout"),
        pytest.param(aiohttp.ClientOSError(111, "refused"), "connect-error", id="client-os-error"),
        pytest.param(ConnectionRefusedError(), "connect-error", id="refused"),
        pytest.param(ConnectionResetError(), "connect-error", id="reset"),
        pytest.param(aiohttp.ServerDisconnectedError(), "connect-error", id="server-disconnected"),
        pytest.param(aiohttp.ClientPayloadError("cut"), "connect-error", id="payload-cut"),
    ],
)
def test_classify_exception(exc, expected) -> None:
    assert classify_exception(exc) == expected


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        pytest.param(
            {"error": {"type": "server_error", "code": "service_unavailable"}},
            "server-error",
            id="openai-server-error",
        ),
        pytest.param(
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            "overloaded",
            id="anthropic-overloaded",
        ),
        pytest.param(
            {"error": {"type": "server_error", "code": "overloaded"}}, "overloaded", id="overloaded-code"
        ),
        pytest.param(
            {"type": "error", "error": {"type": "rate_limit_error"}},
            "rate-limited",
            id="anthropic-rate-limit",
        ),
        pytest.param(
            {"error": {"type": "requests", "code": "rate_limit_exceeded"}},
            "rate-limited",
            id="openai-rate-limit-code",
        ),
        pytest.param(OPENAI_CONTEXT, "context-length", id="context-length"),
        pytest.param({"error": "something broke"}, "server-error", id="string-error"),
        pytest.param({"error": None}, "server-error", id="null-error"),
        pytest.param(["not", "a", "dict"], "server-error", id="not-an-object"),
    ],
)
def test_classify_stream_error(event, expected) -> None:
    assert classify_stream_error(event) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(OPENAI_CONTEXT, True, id="openai"),
        pytest.param(ANTHROPIC_CONTEXT, True, id="anthropic"),
        pytest.param(VLLM_CONTEXT, True, id="vllm-top-level-message"),
        pytest.param(LLAMA_CPP_CONTEXT, True, id="llama-cpp"),
        pytest.param(TGI_CONTEXT, True, id="tgi-string-error"),
        pytest.param({"error": {"message": "Input is too long for requested model."}}, True, id="bedrock"),
        pytest.param(INVALID, False, id="other-400"),
        pytest.param({"error": "quota exceeded"}, False, id="string-other"),
        pytest.param(None, False, id="none"),
        pytest.param("maximum context length", False, id="not-a-document"),
    ],
)
def test_is_context_length_error(body, expected) -> None:
    assert is_context_length_error(body) is expected


def test_the_clients_mistakes_never_count_against_an_endpoint_nor_retry() -> None:
    assert {"client-error", "context-length"} <= NOT_ENDPOINT_FAULTS
    assert (
        not {"connect-error", "timeout", "server-error", "rate-limited", "overloaded"} & NOT_ENDPOINT_FAULTS
    )
