"""Errors the sidecar answers with, and the wrapper of every handler that renders them (caller's shape).

    ProxyError                    status, type, code, message, param, retry_after
    ├── BadRequest                400 invalid_request_error   malformed JSON, wrong types, bad hints
    ├── NotFound                  404 invalid_request_error   no route (model_not_found), unknown id
    ├── MethodNotAllowed          405 invalid_request_error   e.g. GET /v1/chat/completions
    ├── RequestTimeout            408 invalid_request_error   the body did not arrive in time
    ├── PayloadTooLarge           413 invalid_request_error   body over --max-body-bytes
    ├── ExpectationFailed         417 invalid_request_error   an Expect header other than 100-continue
    ├── HeadersTooLarge           431 invalid_request_error   a request head over MAX_HEAD_BYTES
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
from collections.abc import Awaitable, Callable, Collection, Mapping
from itertools import chain
from typing import Any

import orjson
from aiohttp import HttpVersion11, web

from ..routing.hints import REQUEST_ID as REQUEST_ID_HEADER
from .state import REQUEST_ID, REQUEST_IDS

log = logging.getLogger("switchboard.proxy")
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
MAX_HEAD_BYTES = 32 * 1024  # the header fields of one request, all together

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
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.retry_after = retry_after
        self.headers = headers or {}
        self.close = close  # the connection cannot carry another request (its body could not be read)


class BadRequest(ProxyError):
    status, type = 400, "invalid_request_error"


class NotFound(ProxyError):
    status, type = 404, "invalid_request_error"


class MethodNotAllowed(ProxyError):
    status, type = 405, "invalid_request_error"


class RequestTimeout(ProxyError):
    status, type = 408, "invalid_request_error"


class PayloadTooLarge(ProxyError):
    status, type = 413, "invalid_request_error"


class ExpectationFailed(ProxyError):
    status, type = 417, "invalid_request_error"


class HeadersTooLarge(ProxyError):
    status, type = 431, "invalid_request_error"


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
    try:
        return orjson.dumps(document)
    except orjson.JSONEncodeError:
        # A message that quotes what the client sent may hold text that is no UTF-8 (lone surrogates).
        error.update(message=_printable(message), param=param and _printable(param))
        return orjson.dumps(document)


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


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
    response = web.Response(status=exc.status, body=body, content_type="application/json", headers=headers)
    if exc.close:
        response.force_close()
    return response


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


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def at_the_edge(handler: Handler) -> Handler:
    """`handler` with the two things every answer needs: the request id (the caller's X-Request-Id if it
    is sane, else a new one, echoed on every answer), and the only broad `except` of the request path,
    which renders every failure in the caller's shape. A wrapper of each handler rather than an aiohttp
    middleware, which would cost every request a chain of partials and per-app lookups.
    """

    async def edge(request: web.Request) -> web.StreamResponse:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = request[REQUEST_ID] = (
            given if _SAFE_REQUEST_ID.match(given) else f"{request.app[REQUEST_IDS].getrandbits(128):032x}"
        )
        try:
            if _head_bytes(request) > MAX_HEAD_BYTES:
                raise HeadersTooLarge(
                    f"the request's header fields are larger than {MAX_HEAD_BYTES} bytes together",
                    code="headers_too_large",
                    close=True,
                )
            response = await handler(request)
        except ProxyError as exc:
            return render(request, exc)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return render(request, from_http_exception(request, exc))
        except Exception:
            log.exception("unexpected error handling %s (request id %s)", request.method, request_id)
            return render(
                request, InternalError(f"internal error (request id {request_id})", code="internal_error")
            )
        if not response.prepared:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response

    return edge


def _head_bytes(request: web.BaseRequest) -> int:
    return sum(map(len, chain.from_iterable(request.raw_headers)))  # names and values, summed in C


def unrouted(methods_by_path: Mapping[str, Collection[str]]) -> Handler:
    """The handler of every request no route took: 405 (with Allow) on a known path, else 404."""

    async def refuse(request: web.Request) -> web.StreamResponse:
        allowed = methods_by_path.get(request.path)
        if allowed:
            raise MethodNotAllowed(
                f"method {request.method} is not allowed on {request.path}",
                code="method_not_allowed",
                headers={"Allow": ", ".join(sorted(allowed))},
            )
        raise NotFound(f"no such API: {request.method} {request.path}", code="not_found")

    return refuse


async def expect_handler(request: web.Request) -> web.StreamResponse | None:
    """`Expect: 100-continue` is answered as aiohttp does; any other expectation is a 417 in the caller's
    shape (this runs before the handler's wrapper, so the request id is made here)."""
    expect = request.headers.get("Expect", "")
    if request.version != HttpVersion11:
        return None  # HTTP/1.0 has no Expect: the header is ignored
    if expect.lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the real answer is still to come
        return None
    request[REQUEST_ID] = f"{request.app[REQUEST_IDS].getrandbits(128):032x}"
    refused = ExpectationFailed("only 'Expect: 100-continue' is supported", code="expectation_failed")
    return render(request, refused)
