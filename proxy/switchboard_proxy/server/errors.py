"""Errors the sidecar answers with, and the one middleware that renders them in the OpenAI shape.

    ProxyError                    status, type, code, message, param, retry_after
    ├── BadRequest                400 invalid_request_error   malformed JSON, wrong types, bad hints
    ├── NotFound                  404 invalid_request_error   no route (model_not_found), unknown id
    ├── MethodNotAllowed          405 invalid_request_error   e.g. GET /v1/chat/completions
    ├── PayloadTooLarge           413 invalid_request_error   body over --max-body-bytes
    ├── RateLimited               429 rate_limit_error        budget spent, limits (Retry-After)
    ├── InternalError             500 internal_error          a bug: logged with its traceback, never shown
    ├── UpstreamFailed            502 upstream_error          a failure the policy does not fail over on
    ├── Unavailable               503 service_unavailable     every endpoint failed (Retry-After)
    └── DeadlineExceeded          504 timeout_error           the deadline ran out, or an upstream timed out

Bodies are `{"error": {"message", "type", "code", "param"}}`; on /v1/messages they also carry the
top-level `"type": "error"` the Anthropic SDK looks for. Nothing else ever reaches a client: an
unexpected exception becomes a 500 with the request id and no traceback, and is logged.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import orjson
from aiohttp import web

from ..routing.hints import REQUEST_ID as REQUEST_ID_HEADER
from .state import REQUEST_ID, REQUEST_IDS

log = logging.getLogger("switchboard.proxy")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "api_error",
}


class ProxyError(Exception):
    """An error answer; subclasses fix the status and type."""

    status = 500
    type = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.retry_after = retry_after
        self.headers = headers or {}


class BadRequest(ProxyError):
    status, type = 400, "invalid_request_error"


class NotFound(ProxyError):
    status, type = 404, "invalid_request_error"


class MethodNotAllowed(ProxyError):
    status, type = 405, "invalid_request_error"


class PayloadTooLarge(ProxyError):
    status, type = 413, "invalid_request_error"


class RateLimited(ProxyError):
    status, type = 429, "rate_limit_error"


class Unavailable(ProxyError):
    status, type = 503, "service_unavailable"


class InternalError(ProxyError):
    status, type = 500, "internal_error"


class UpstreamFailed(ProxyError):
    status, type = 502, "upstream_error"


class DeadlineExceeded(ProxyError):
    status, type = 504, "timeout_error"


def error_body(
    status: int, *, message: str, type_: str, code: str | None, param: str | None, anthropic: bool = False
) -> bytes:
    """The JSON error document (OpenAI shape; Anthropic-compatible on /v1/messages)."""
    error: dict[str, Any] = {"message": message, "type": type_, "code": code, "param": param}
    document: dict[str, Any] = {"error": error}
    if anthropic:
        document = {"type": "error", "error": {**error, "type": ANTHROPIC_TYPES.get(status, "api_error")}}
    return orjson.dumps(document)


def render(request: web.BaseRequest, exc: ProxyError) -> web.Response:
    """The error as an HTTP response (OpenAI shape; Anthropic-compatible on /v1/messages)."""
    request_id = request.get(REQUEST_ID, "")
    headers = {"X-Request-Id": request_id} if request_id else {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    headers.update(exc.headers)
    anthropic = request.path.startswith("/v1/messages")
    body = error_body(
        exc.status, message=exc.message, type_=exc.type, code=exc.code, param=exc.param, anthropic=anthropic
    )
    return web.Response(status=exc.status, body=body, content_type="application/json", headers=headers)


def from_http_exception(request: web.BaseRequest, exc: web.HTTPException) -> ProxyError:
    """aiohttp's own 4xx (unknown path, wrong method, body too large) in our vocabulary."""
    if exc.status == 404:
        return NotFound(f"no such API: {request.method} {request.path}", code="not_found")
    if exc.status == 405:
        return MethodNotAllowed(
            f"method {request.method} is not allowed on {request.path}", code="method_not_allowed"
        )
    if exc.status == 413:
        return PayloadTooLarge(
            f"request body is larger than {request.client_max_size} bytes", code="request_too_large"
        )
    error = BadRequest(exc.text or exc.reason, code="bad_request")
    error.status = exc.status
    return error


@web.middleware
async def edge_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """The two things every answer needs, in one layer (each middleware layer costs every request):
    the request id (the caller's X-Request-Id if it is sane, else a new one, echoed on every answer),
    and the only broad `except` of the request path, which renders every failure in the caller's shape.
    """
    given = request.headers.get(REQUEST_ID_HEADER, "")
    request_id = request[REQUEST_ID] = (
        given if _SAFE_REQUEST_ID.match(given) else f"{request.app[REQUEST_IDS].getrandbits(128):032x}"
    )
    try:
        response: web.StreamResponse = await handler(request)
    except ProxyError as exc:
        return render(request, exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return render(request, from_http_exception(request, exc))
    except Exception:
        log.exception(
            "unexpected error handling %s %s (request id %s)", request.method, request.path, request_id
        )
        return render(
            request, InternalError(f"internal error (request id {request_id})", code="internal_error")
        )
    if not response.prepared:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response
