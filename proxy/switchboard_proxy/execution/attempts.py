"""One attempt against one endpoint: send, wait for an answer (or a stream's first event), classify.

An attempt either returns `Ready` (a whole JSON body, or an open stream whose first event has arrived and
is not an error) or raises `AttemptFailed` carrying the failure kind. Timeouts: the connect timeout is
the HTTP client's; the first event of a stream must arrive within `first_token_ms`; a non-streamed
answer within `total_ms`; and nothing ever outlives the caller's deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import aiohttp
import orjson

from ..runtime import EndpointRuntime
from .classify import Failure, classify_exception, classify_status, classify_stream_error
from .streaming import first_event_error, is_comment, iter_events
from .upstreams import PREPARERS, Call

MAX_ERROR_BODY = 64 * 1024  # enough to classify an upstream error, never a whole runaway response


class AttemptFailed(Exception):
    """An attempt that did not produce a servable answer."""

    def __init__(
        self,
        failure: Failure,
        *,
        status: int = 0,
        body: bytes = b"",
        retry_after: float | None = None,
        detail: str = "",
    ) -> None:
        super().__init__(f"{failure} {status or ''} {detail}".strip())
        self.failure = failure
        self.status = status
        self.body = body
        self.retry_after = retry_after
        self.detail = detail


@dataclass(eq=False, slots=True)
class Ready:
    """A servable answer: `body` for JSON, or `response` + `first_events` + `events` for a stream."""

    endpoint: EndpointRuntime
    status: int
    started: float
    first_byte: float
    body: bytes = b""
    response: aiohttp.ClientResponse | None = None
    first_events: list[bytes] | None = None
    events: AsyncIterator[list[bytes]] | None = None
    add_usage: bool = False

    def close(self) -> None:
        """Release the upstream connection (a stream that lost a hedge race, or a finished relay)."""
        if self.response is not None:
            self.response.close()


class AttemptLimits(NamedTuple):
    """Timeouts of one attempt, in seconds, already clipped to the caller's deadline."""

    connect: float
    first_event: float
    total: float
    clipped: bool = False  # the caller's deadline, not the policy, set the binding timeout


@functools.lru_cache(maxsize=1024)
def client_timeout(connect: float, total: float | None) -> aiohttp.ClientTimeout:
    """The HTTP client's timeout object (few distinct values: the policies' own, unless a deadline clips)."""
    return aiohttp.ClientTimeout(total=total, sock_connect=connect, sock_read=None)


async def run_attempt(
    session: aiohttp.ClientSession, endpoint: EndpointRuntime, call: Call, limits: AttemptLimits
) -> Ready:
    """Send `call` to `endpoint` and wait until it is servable or has failed."""
    prepared = PREPARERS[endpoint.config.provider](endpoint.config, call, endpoint.key)
    loop = asyncio.get_running_loop()
    started = loop.time()
    # A JSON answer is bounded by the HTTP client's own total timeout; a stream's first event by a
    # separate timer, since the rest of the stream is relayed later under the total and the deadline.
    total = None if call.stream else round(limits.total, 3)
    timeout = client_timeout(round(limits.connect, 3), total)
    first_event = asyncio.timeout(limits.first_event) if call.stream else contextlib.nullcontext()
    response: aiohttp.ClientResponse | None = None
    try:
        async with first_event:
            response = await session.post(
                prepared.url, data=prepared.payload, headers=prepared.headers, timeout=timeout
            )
            if response.status != 200:
                raise await _failed_status(response)
            if not call.stream:
                body = await response.read()
                response.release()
                if _is_error_document(body):
                    raise AttemptFailed(
                        classify_stream_error(orjson.loads(body)),
                        status=200,
                        body=body,
                        detail="a 200 whose body is an error",
                    )
                return Ready(endpoint, 200, started, loop.time(), body=body)
            events = iter_events(response.content.iter_any())
            first = await read_first_events(events)
    except AttemptFailed:
        _close(response)
        raise
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        _close(response)
        failure = classify_exception(exc)
        raise AttemptFailed(failure, detail=_describe(exc, failure)) from None
    except asyncio.CancelledError:
        _close(response)
        raise
    assert response is not None
    return _servable_stream(endpoint, response, first, events, started=started, add_usage=prepared.add_usage)


def _servable_stream(
    endpoint: EndpointRuntime,
    response: aiohttp.ClientResponse,
    first: list[bytes],
    events: AsyncIterator[list[bytes]],
    *,
    started: float,
    add_usage: bool,
) -> Ready:
    """A stream whose first event arrived: servable unless it is empty or an error (a 200 that failed)."""
    content = next((event for event in first if not is_comment(event)), None)
    if content is None:
        response.close()
        raise AttemptFailed("server-error", status=200, detail="stream ended before its first event")
    error = first_event_error(content)
    if error is not None:
        response.close()
        raise AttemptFailed(
            classify_stream_error(error),
            status=200,
            body=orjson.dumps(error),
            detail="first event of the stream is an error",
        )
    first_byte = asyncio.get_running_loop().time()
    return Ready(
        endpoint,
        200,
        started,
        first_byte,
        response=response,
        first_events=first,
        events=events,
        add_usage=add_usage,
    )


async def read_first_events(events: AsyncIterator[list[bytes]]) -> list[bytes]:
    """Events up to the first batch holding more than comments (a keep-alive is not a first token)."""
    gathered: list[bytes] = []
    while (batch := await anext(events, None)) is not None:
        gathered += batch
        if not all(is_comment(event) for event in batch):
            break
    return gathered


async def _failed_status(response: aiohttp.ClientResponse) -> AttemptFailed:
    body = await response.content.read(MAX_ERROR_BODY)
    response.close()
    decoded: Any = None
    with contextlib.suppress(orjson.JSONDecodeError):
        decoded = orjson.loads(body)
    # Another 2xx than 200 is no answer a model API gives: the endpoint is not what the config says.
    failure = classify_status(response.status, decoded) or "server-error"
    return AttemptFailed(
        failure,
        status=response.status,
        body=body,
        retry_after=_retry_after(response),
        detail=f"HTTP {response.status}",
    )


def _is_error_document(body: bytes) -> bool:
    """A 200 whose JSON body is an error object rather than an answer (seen from some gateways)."""
    if b'"error"' not in body[:256]:
        return False
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return (
        isinstance(document, dict)
        and "error" in document
        and not ({"choices", "content", "data"} & document.keys())
    )


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    raw = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None  # an HTTP date: rare from model servers; treat as absent


def _describe(exc: BaseException, failure: str) -> str:
    if failure == "timeout":
        return "timed out"
    return type(exc).__name__


def _close(response: aiohttp.ClientResponse | None) -> None:
    if response is not None:
        response.close()
