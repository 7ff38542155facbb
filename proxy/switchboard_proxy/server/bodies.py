"""Read and check a model call's JSON body: clear 400s for malformed input, before anything is planned.

Only what the sidecar itself relies on is checked (types of model, messages, stream, max_tokens and the
API's required input); everything else passes through to the upstream untouched, so new API fields work
without a sidecar release.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from ..routing.request import Api
from .errors import BadRequest, PayloadTooLarge, RequestTimeout

REQUIRED_INPUT: dict[Api, str] = {
    "chat": "messages",
    "completions": "prompt",
    "embeddings": "input",
    "messages": "messages",
    "responses": "input",
}
INTEGER_FIELDS = ("max_tokens", "max_completion_tokens", "max_output_tokens", "n")
# Responses API fields the sidecar reads (server-side state decides where the request may go).
RESPONSES_STRINGS = ("instructions", "previous_response_id")
BODY_SECONDS = 30.0  # a client that has not sent its whole body by then is cut off
# The deepest nesting of objects and arrays accepted, for every API (a tool's JSON schema needs perhaps a
# dozen levels). The same limit for all, checked once at the edge: nothing later recurses or re-encodes
# deeper than this (orjson itself stops at 254 levels when writing a body upstream).
MAX_DEPTH = 128


async def read_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, or a 4xx saying exactly what is wrong."""
    try:
        if request.content.is_eof():
            raw = await request.read()  # the whole body came with the head (nearly always): no timer
        else:
            async with asyncio.timeout(BODY_SECONDS):
                raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise PayloadTooLarge(
            f"request body is larger than {request.client_max_size} bytes", code="request_too_large"
        ) from None
    except RequestPayloadError as exc:
        # A body that does not decompress, or whose framing is broken: the connection cannot be reused,
        # and nothing of it is left to drain (aiohttp would read the broken rest again after the answer).
        request.content.feed_eof()
        raise BadRequest(
            f"request body could not be read: {_first_line(exc)}", code="invalid_body", close=True
        ) from None
    except TimeoutError:
        request.content.feed_eof()
        raise RequestTimeout(
            f"request body did not arrive within {BODY_SECONDS:.0f} s", code="body_timeout", close=True
        ) from None
    if not raw:
        raise BadRequest("request body is empty; send a JSON object", code="invalid_json")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"request body is not valid JSON (UTF-8): {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object", code="invalid_json")
    # Nesting cannot be deeper than there are brackets: only a body with many is walked.
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH and depth_of(body) > MAX_DEPTH:
        raise BadRequest(
            f"request body is nested deeper than {MAX_DEPTH} levels of objects and arrays",
            code="too_deeply_nested",
        )
    return body


def depth_of(document: Any) -> int:
    """How deeply objects and arrays nest in `document` (a loop: a client's depth is not the stack's)."""
    deepest = 0
    stack = [(document, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def check_body(api: Api, body: dict[str, Any]) -> None:
    """Raise BadRequest (with `param`) for the mistakes that would confuse routing."""
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise BadRequest("'model' must be a string", code="invalid_type", param="model")
    required = REQUIRED_INPUT[api]
    value = body.get(required)
    if value is None:
        raise BadRequest(f"'{required}' is required", code="missing_required_parameter", param=required)
    if api in ("chat", "messages"):
        _check_messages(value, required)
    elif api == "responses":
        _check_responses(body, value)
    elif not isinstance(value, str | list):
        raise BadRequest(f"'{required}' must be a string or an array", code="invalid_type", param=required)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise BadRequest("'stream' must be a boolean", code="invalid_type", param="stream")
    if api == "embeddings" and stream:
        raise BadRequest("embeddings cannot be streamed", code="invalid_value", param="stream")
    for name in INTEGER_FIELDS:
        number = body.get(name)
        if number is not None and (not isinstance(number, int) or isinstance(number, bool) or number < 1):
            raise BadRequest(f"'{name}' must be a positive integer", code="invalid_type", param=name)
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise BadRequest("'stream_options' must be an object", code="invalid_type", param="stream_options")


def _check_responses(body: dict[str, Any], value: Any) -> None:
    if not (isinstance(value, str) or (isinstance(value, list) and value)):
        raise BadRequest("'input' must be a string or a non-empty array", code="invalid_type", param="input")
    if isinstance(value, list) and not all(isinstance(item, dict) for item in value):
        raise BadRequest("'input' items must be objects", code="invalid_type", param="input")
    for name in RESPONSES_STRINGS:
        if body.get(name) is not None and not isinstance(body[name], str):
            raise BadRequest(f"'{name}' must be a string", code="invalid_type", param=name)
    if body.get("store") is not None and not isinstance(body["store"], bool):
        raise BadRequest("'store' must be a boolean", code="invalid_type", param="store")


def _check_messages(messages: Any, name: str) -> None:
    if not isinstance(messages, list) or not messages:
        raise BadRequest(f"'{name}' must be a non-empty array", code="invalid_type", param=name)
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise BadRequest(
                f"'{name}[{index}]' must be an object", code="invalid_type", param=f"{name}[{index}]"
            )
        if not isinstance(message.get("role"), str):
            raise BadRequest(
                f"'{name}[{index}].role' must be a string", code="invalid_type", param=f"{name}[{index}].role"
            )


def wants_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True
