"""One attempt against one endpoint: send, wait for an answer (or a stream's first event), classify.

An attempt either returns `Ready` (a whole JSON answer, or an open stream whose first event has arrived
and is not an error) or raises `AttemptFailed` carrying the failure kind. Timeouts: the connect timeout
and the attempt's total (the policy's `totalMs`, clipped to the caller's deadline) bound a JSON attempt
around the pool's request, and a stream through aiohttp's own timer, its relay included; the first
event of a stream must arrive within `first_token_ms`. Nothing ever outlives the caller's deadline.
This module does I/O only: the executor owns the attempt's lease and gives it its verdict.

Answers read whole (JSON) go through the lean pooled client of `http1.py`; streams through aiohttp's
session, whose relay needs its flow control and incremental reads (`Clients` holds both).

An endpoint that speaks another API than the caller (`routing.protocols.wire_api`) gets the request
translated (`translation`); its JSON answer and its error documents are translated back here, and its
stream by the stream body, event by event. A stream commits at its first event that is more than a
comment or a Responses preamble (`response.created`, `response.in_progress`), so an `error` or a
`response.failed` before any output is a failure like a 503 and fails over invisibly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import aiohttp
import orjson

from ..routing.protocols import wire_api
from ..routing.request import Api
from ..translation import TranslationError, Translator, translator_for
from ..translation.failures import translation_error_document
from .answers import Answer, inspect_answer
from .classify import Failure, classify_exception, classify_status, classify_stream_error
from .http1 import MAX_ERROR_BODY, Http1Pool, HttpAnswer
from .leasing import Lease
from .provider_limits import LimitSignal, read_limit_signal
from .runtime import EndpointRuntime
from .streaming import first_event_error, is_comment, is_preamble, iter_events
from .upstreams import PREPARERS, Call


@dataclass(frozen=True, slots=True)
class Clients:
    """The HTTP clients of attempts: `pool` for answers read whole, aiohttp's `session` for streams."""

    session: aiohttp.ClientSession
    pool: Http1Pool


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
        signal: LimitSignal | None = None,
    ) -> None:
        super().__init__(f"{failure} {status or ''} {detail}".strip())
        self.failure = failure
        self.status = status
        self.body = body
        self.retry_after = retry_after
        self.detail = detail
        self.signal = signal  # what the upstream said about its own rate limits


@dataclass(eq=False, slots=True)
class Ready:
    """A servable answer: `body` and its decoded `document` for JSON, or an open stream whose first
    events have arrived (`response`, `first_events`, `events`; the stream's `lease` rides along until
    the stream body takes it over)."""

    endpoint: EndpointRuntime
    started: float
    first_byte: float
    body: bytes = b""
    document: Any = None
    response: aiohttp.ClientResponse | None = None
    first_events: list[bytes] | None = None
    events: AsyncIterator[list[bytes]] | None = None
    add_usage: bool = False
    lease: Lease | None = None
    answer: Answer | None = None  # what a JSON answer says about itself, read from the endpoint's own words
    wire: Api = "chat"  # the API the endpoint was called in
    translator: Translator | None = None  # set when that is not the caller's API
    signal: LimitSignal | None = None  # the upstream's word on its own rate limits, if it gave one

    def discard(self) -> None:
        """Give back what an answer that will not be served holds (a stream that lost a hedge race)."""
        if self.response is not None:
            self.response.close()
        if self.lease is not None:
            if not self.lease.ended:
                self.lease.abandon()
            self.lease.close()


class AttemptLimits(NamedTuple):
    """Timeouts of one attempt, in seconds, already clipped to the caller's deadline."""

    connect: float
    first_event: float
    total: float
    clipped: bool = False  # the deadline, not the policy, set the timeout that ends the attempt's wait
    total_clipped: bool = False  # the deadline, not totalMs, bounds the whole attempt (a stream's relay)


async def run_attempt(
    clients: Clients, endpoint: EndpointRuntime, call: Call, limits: AttemptLimits
) -> Ready:
    """Send `call` to `endpoint` (translated to its API if need be) and wait until it is servable or
    has failed."""
    wire, translator = _translation(endpoint, call)
    sent = call if translator is None else _translated_call(endpoint, call, wire, translator)
    prepared = PREPARERS[endpoint.config.provider](endpoint.config, sent, endpoint.key)
    started = asyncio.get_running_loop().time()
    if not call.stream:
        try:
            async with asyncio.timeout(limits.total):
                answer = await clients.pool.post(
                    prepared.url, prepared.headers, prepared.payload, connect_timeout=limits.connect
                )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            failure = classify_exception(exc)
            raise AttemptFailed(failure, detail=_describe(exc, failure)) from None
        return _json_answer(endpoint, answer, started, call, (wire, translator))
    # One timer of the HTTP client's own bounds the whole stream, its relay included; its first event
    # has a shorter timer of its own.
    timeout = aiohttp.ClientTimeout(total=limits.total, sock_connect=limits.connect, sock_read=None)
    request = clients.session.post(
        prepared.url, data=prepared.payload, headers=prepared.headers, timeout=timeout
    )
    response: aiohttp.ClientResponse | None = None
    try:
        async with asyncio.timeout(limits.first_event):
            response = await request
            if response.status != 200:
                raise await _failed_status(response, translator)
            events = iter_events(response.content.iter_any())
            first = await read_first_events(events, preamble=wire == "responses")
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
    ready = _servable_stream(endpoint, response, first, events, started=started, add_usage=prepared.add_usage)
    ready.wire, ready.translator = wire, translator
    return ready


def _translation(endpoint: EndpointRuntime, call: Call) -> tuple[Api, Translator | None]:
    wire = wire_api(call.api, endpoint.config)
    if wire == call.api:
        return wire, None
    return wire, translator_for(call.api, wire, call.body, created=int(time.time()))


def _translated_call(endpoint: EndpointRuntime, call: Call, wire: Api, translator: Translator) -> Call:
    """The call in the endpoint's API; a request that API cannot express is the caller's 400."""
    try:
        body = translator.request(max_tokens=endpoint.config.max_output_tokens)
    except TranslationError as exc:
        document = translation_error_document(call.api, exc)
        raise AttemptFailed(
            Failure.CLIENT_ERROR, status=400, body=orjson.dumps(document), detail="untranslatable request"
        ) from None
    return call._replace(api=wire, body=body)


def _json_answer(
    endpoint: EndpointRuntime,
    response: HttpAnswer,
    started: float,
    call: Call,
    translation: tuple[Api, Translator | None],
) -> Ready:
    wire, translator = translation
    if response.status != 200:
        raise _failure_of(response.status, response.headers, response.body, translator)
    body = response.body
    document = _decode(body)
    if _is_error_document(document):
        shown = body if translator is None else orjson.dumps(translator.error(502, document))
        raise AttemptFailed(
            classify_stream_error(document), status=200, body=shown, detail="a 200 whose body is an error"
        )
    answer = inspect_answer(wire, document, prompt_tokens=call.prompt_tokens)
    if translator is not None and isinstance(document, dict):
        document = translator.answer(document)
        body = orjson.dumps(document)
    ready = Ready(
        endpoint,
        started,
        asyncio.get_running_loop().time(),
        body=body,
        document=document,
        signal=read_limit_signal(response.headers),
    )
    ready.answer, ready.wire, ready.translator = answer, wire, translator
    return ready


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
    content = next((event for event in first if not is_comment(event) and not is_preamble(event)), None)
    if content is None:
        response.close()
        raise AttemptFailed(Failure.SERVER_ERROR, status=200, detail="stream ended before its first event")
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
        started,
        first_byte,
        response=response,
        first_events=first,
        events=events,
        add_usage=add_usage,
        signal=read_limit_signal(response.headers),
    )


async def read_first_events(events: AsyncIterator[list[bytes]], *, preamble: bool = False) -> list[bytes]:
    """Events up to the first batch holding more than comments (a keep-alive is not a first token) and,
    with `preamble` (a Responses stream), more than response.created / response.in_progress."""
    gathered: list[bytes] = []
    while (batch := await anext(events, None)) is not None:
        gathered += batch
        if not all(is_comment(event) or (preamble and is_preamble(event)) for event in batch):
            break
    return gathered


async def _failed_status(response: aiohttp.ClientResponse, translator: Translator | None) -> AttemptFailed:
    body = await response.content.read(MAX_ERROR_BODY)
    response.close()
    return _failure_of(response.status, response.headers, body, translator)


def _failure_of(
    status: int, headers: Mapping[str, str], body: bytes, translator: Translator | None
) -> AttemptFailed:
    document = _decode(body)
    # Another 2xx than 200 is no answer a model API gives: the endpoint is not what the config says.
    failure = classify_status(status, document) or Failure.SERVER_ERROR
    if translator is not None:  # classified on the upstream's own words, shown in the caller's shape
        body = orjson.dumps(translator.error(status, document))
    return AttemptFailed(
        failure,
        status=status,
        body=body,
        retry_after=_retry_after(headers),
        detail=f"HTTP {status}",
        signal=read_limit_signal(headers),
    )


def _decode(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _is_error_document(document: Any) -> bool:
    """A 200 whose JSON body is an error object rather than an answer (seen from some gateways)."""
    if not isinstance(document, dict) or not document.get("error"):
        return False  # a Response always has `error`: null when it succeeded
    return document.get("status") == "failed" or not (
        {"choices", "content", "data", "output"} & document.keys()
    )


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("Retry-After", "")
    try:
        return max(0.0, float(raw)) if raw else None
    except ValueError:
        return None  # an HTTP date: rare from model servers; treat as absent


def _describe(exc: BaseException, failure: Failure) -> str:
    if failure == Failure.TIMEOUT:
        return "timed out"
    return type(exc).__name__


def _close(response: aiohttp.ClientResponse | None) -> None:
    if response is not None:
        response.close()
