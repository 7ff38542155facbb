"""Error responses of `switchboard-sim`, in the OpenAI or the Anthropic shape.

Where it sits: every model API handler that refuses a request (unknown model, bad key, too long a prompt,
an injected fault) raises `SimError(kind, message)`; `serving.run_call` renders it once, in the shape of
the API the client called. `ERRORS` is the one table from kind to status and error type/code.

    OpenAI:    {"error": {"message", "type", "code", "param"}}
    Anthropic: {"type": "error", "error": {"type", "message"}}
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import orjson
from aiohttp import web


class Dialect(Enum):
    """Which API family a request came in on; decides the error shape."""

    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    RESPONSES = "responses"  # OpenAI's error documents; its stream's error event is typed


@dataclass(frozen=True)
class ErrorSpec:
    status: int
    openai_type: str
    openai_code: str | None
    anthropic_type: str
    # Anthropic answers "overloaded" with its own 529; OpenAI-compatible servers use 503.
    anthropic_status: int | None = None


ERRORS: dict[str, ErrorSpec] = {
    "invalid": ErrorSpec(400, "invalid_request_error", None, "invalid_request_error"),
    "context-length": ErrorSpec(
        400, "invalid_request_error", "context_length_exceeded", "invalid_request_error"
    ),
    "unauthorized": ErrorSpec(401, "invalid_request_error", "invalid_api_key", "authentication_error"),
    "not-found": ErrorSpec(404, "invalid_request_error", "model_not_found", "not_found_error"),
    "rate-limited": ErrorSpec(429, "requests", "rate_limit_exceeded", "rate_limit_error"),
    "error-500": ErrorSpec(500, "server_error", None, "api_error"),
    "error-503": ErrorSpec(503, "server_error", "service_unavailable", "api_error"),
    "overloaded": ErrorSpec(503, "server_error", "overloaded", "overloaded_error", anthropic_status=529),
}


class SimError(Exception):
    """A refusal to render as an API error; `kind` is a key of ERRORS.

    (kind, message) stay positional, like the arguments of the built-in exceptions.
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        retry_after_s: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after_s = retry_after_s
        self.headers = headers or {}


def error_body(error: SimError, *, dialect: Dialect) -> dict[str, Any]:
    """The JSON error object for `error` in the given API's shape."""
    spec = ERRORS[error.kind]
    if dialect is Dialect.ANTHROPIC:
        return {"type": "error", "error": {"type": spec.anthropic_type, "message": error.message}}
    return {
        "error": {"message": error.message, "type": spec.openai_type, "code": spec.openai_code, "param": None}
    }


def error_status(error: SimError, *, dialect: Dialect) -> int:
    spec = ERRORS[error.kind]
    if dialect is Dialect.ANTHROPIC and spec.anthropic_status is not None:
        return spec.anthropic_status
    return spec.status


def error_response(error: SimError, *, dialect: Dialect) -> web.Response:
    """A complete HTTP error response, with Retry-After when the error carries one."""
    headers = {"Content-Type": "application/json", **error.headers}
    if error.retry_after_s is not None:
        headers["Retry-After"] = str(error.retry_after_s)
    return web.Response(
        body=orjson.dumps(error_body(error, dialect=dialect)),
        status=error_status(error, dialect=dialect),
        headers=headers,
    )


def error_event(error: SimError, *, dialect: Dialect) -> bytes:
    """The error as one SSE message: `data: {"error": ...}` (OpenAI), `event: error` (Anthropic), or the
    Responses API's typed `error` event."""
    data = orjson.dumps(error_body(error, dialect=dialect))
    if dialect is Dialect.ANTHROPIC:
        return b"event: error\ndata: " + data + b"\n\n"
    if dialect is Dialect.RESPONSES:
        spec = ERRORS[error.kind]
        event = {"type": "error", "code": spec.openai_code or spec.openai_type, "message": error.message}
        return (
            b"event: error\ndata: " + orjson.dumps({**event, "param": None, "sequence_number": 0}) + b"\n\n"
        )
    return b"data: " + data + b"\n\n"
