"""The error tree and its rendering: the OpenAI shape, with Anthropic's `type: error` on /v1/messages."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from switchboard_proxy.server.errors import (
    BadRequest,
    DeadlineExceeded,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ProxyError,
    RateLimited,
    Unavailable,
    UpstreamFailed,
    error_body,
    from_http_exception,
    render,
)
from switchboard_proxy.server.state import REQUEST_ID


@pytest.mark.parametrize(
    ("error_class", "status", "type_"),
    [
        (BadRequest, 400, "invalid_request_error"),
        (NotFound, 404, "invalid_request_error"),
        (MethodNotAllowed, 405, "invalid_request_error"),
        (PayloadTooLarge, 413, "invalid_request_error"),
        (RateLimited, 429, "rate_limit_error"),
        (InternalError, 500, "internal_error"),
        (UpstreamFailed, 502, "upstream_error"),
        (Unavailable, 503, "service_unavailable"),
        (DeadlineExceeded, 504, "timeout_error"),
    ],
)
def test_error_tree_statuses_and_types(error_class: type[ProxyError], status: int, type_: str) -> None:
    error = error_class("msg", code="c")
    assert isinstance(error, ProxyError)
    assert (error.status, error.type, error.code, error.message) == (status, type_, "c", "msg")


def test_openai_shape() -> None:
    body = json.loads(error_body(400, message="bad", type_="invalid_request_error", code="x", param="model"))
    assert body == {
        "error": {"message": "bad", "type": "invalid_request_error", "code": "x", "param": "model"}
    }


def test_null_code_and_param_are_present_as_null() -> None:
    body = json.loads(error_body(404, message="m", type_="t", code=None, param=None))
    assert body["error"]["code"] is None and body["error"]["param"] is None
    assert set(body["error"]) == {"message", "type", "code", "param"}


@pytest.mark.parametrize(
    ("status", "anthropic_type"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (429, "rate_limit_error"),
        (503, "overloaded_error"),
        (504, "api_error"),
        (502, "api_error"),
    ],
)
def test_anthropic_shape(status: int, anthropic_type: str) -> None:
    body = json.loads(error_body(status, message="m", type_="whatever", code="c", param=None, anthropic=True))
    assert body["type"] == "error"
    assert body["error"]["type"] == anthropic_type and body["error"]["message"] == "m"


def test_render_adds_retry_after_request_id_and_extra_headers() -> None:
    request = make_mocked_request("POST", "/v1/chat/completions")
    request[REQUEST_ID] = "rid-1"
    response = render(
        request, Unavailable("down", code="all_failed", retry_after=3, headers={"X-Switchboard-Route": "r"})
    )
    assert response.status == 503 and response.content_type == "application/json"
    assert response.headers["Retry-After"] == "3"
    assert response.headers["X-Request-Id"] == "rid-1"
    assert response.headers["X-Switchboard-Route"] == "r"
    assert response.body is not None
    assert json.loads(bytes(response.body))["error"]["code"] == "all_failed"  # type: ignore[arg-type]


def test_render_on_messages_is_anthropic_shaped() -> None:
    response = render(make_mocked_request("POST", "/v1/messages"), BadRequest("bad", code="invalid_json"))
    document = json.loads(bytes(response.body))  # type: ignore[arg-type]
    assert document["type"] == "error" and document["error"]["type"] == "invalid_request_error"
    assert "Retry-After" not in response.headers


@pytest.mark.parametrize(
    ("exception", "status", "code"),
    [
        (web.HTTPNotFound(), 404, "not_found"),
        (web.HTTPMethodNotAllowed("GET", ["POST"]), 405, "method_not_allowed"),
        (web.HTTPRequestEntityTooLarge(max_size=10, actual_size=20), 413, "request_too_large"),
        (web.HTTPBadRequest(text="nope"), 400, "bad_request"),
        (web.HTTPUnsupportedMediaType(), 415, "bad_request"),
    ],
)
def test_aiohttp_exceptions_in_our_vocabulary(exception: web.HTTPException, status: int, code: str) -> None:
    error = from_http_exception(make_mocked_request("GET", "/v1/x"), exception)
    assert (error.status, error.code) == (status, code)
