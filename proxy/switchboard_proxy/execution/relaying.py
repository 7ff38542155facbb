"""`StreamBody`: a served stream's bytes for the client, and the owner of its upstream and its lease.

The executor hands a stream whose first event has arrived to the server as a `StreamBody`; the server
commits its response and writes whatever the body yields. From the first byte on the stream belongs to
this endpoint: a failure (a reset, the attempt's total or the caller's deadline running out, or an
upstream that just stops without its terminal event) ends the stream with the API's SSE error event and
counts against the endpoint, unless the caller's own deadline was the cause; a client that goes away
(the server stops iterating, or the request is cancelled) closes the upstream and counts against
nobody. However it ends, `close()` gives everything back exactly once.

A stream from an endpoint of another API goes through the attempt's stream translator event by event
(decoded, translated, encoded with `event:` lines for Messages and Responses); usage and the terminal
event are read from the endpoint's own events. A Responses stream that the upstream itself ends with
`response.failed` or `error` after output passes that event on and counts as a mid-stream failure. When
the upstream reported no usage, `usage` is estimated (the prompt from the sidecar's estimate, one token
per content event) and `usage_estimated` says so.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterable
from enum import StrEnum
from typing import Any

import aiohttp
import orjson

from ..accounting.usage import Usage, cost_usd
from ..routing.request import Api
from .attempts import Ready
from .classify import Failure
from .leasing import Lease
from .streaming import (
    DONE,
    RESPONSES_FAILED,
    RESPONSES_TERMINAL,
    AnthropicRelay,
    OpenAIRelay,
    ResponsesRelay,
    StreamTally,
    error_event,
    event_data,
    event_name,
)

Relay = AnthropicRelay | OpenAIRelay | ResponsesRelay


class StreamEnd(StrEnum):
    """How a served stream ended."""

    COMPLETE = "complete"
    MIDSTREAM_FAILURE = "midstream-failure"
    CLIENT_GONE = "client-gone"


class StreamBody:
    """Async iterable of the bytes to write; `tally`, `end` and `cost_usd` say how it went."""

    def __init__(
        self, ready: Ready, *, api: Api, request_id: str, caller_cut: bool, prompt_tokens: int = 0
    ) -> None:
        assert ready.lease is not None and ready.events is not None
        self._ready = ready
        self._lease: Lease = ready.lease
        self._api = api
        self._wire = ready.wire
        self._request_id = request_id
        self._caller_cut = caller_cut  # the caller's deadline, not totalMs, bounds the relay
        self._prompt_tokens = prompt_tokens
        self._relay = _relay_for(ready)
        translator = ready.translator
        self._translation = None if translator is None else translator.stream(prompt_tokens=prompt_tokens)
        self._finished = False  # the upstream's terminal event went by
        self._upstream_failed = False  # ... and it was a Responses failure
        self._closed = False
        self.end: StreamEnd | None = None

    @property
    def tally(self) -> StreamTally:
        return self._relay.tally

    @property
    def usage_estimated(self) -> bool:
        tally = self._relay.tally
        return not (tally.usage.prompt_tokens or tally.usage.completion_tokens)

    @property
    def usage(self) -> Usage:
        tally = self._relay.tally
        if self.usage_estimated:
            return Usage(self._prompt_tokens, tally.pieces)
        return tally.usage

    @property
    def cost_usd(self) -> float:
        return cost_usd(self._ready.endpoint.config, self.usage)

    def __aiter__(self) -> AsyncGenerator[bytes, None]:
        return self._chunks()

    async def _chunks(self) -> AsyncGenerator[bytes, None]:
        ready = self._ready
        assert ready.events is not None
        try:
            yield self._transform(ready.first_events or ())
            async for batch in ready.events:
                chunk = self._transform(batch)
                if chunk:
                    yield chunk
            if not self._finished:
                raise aiohttp.ClientPayloadError("upstream ended the stream without its final event")
            if self._upstream_failed:
                self._fail_by_upstream()
            else:
                self._complete()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            yield self._fail(exc)
        finally:
            self.close()

    def _transform(self, events: Iterable[bytes]) -> bytes:
        """A batch of events as one write, through the relay (and the translator); notes the stream's
        terminal event."""
        out: list[bytes] = []
        for event in events:
            transformed = self._relay.transform(event)
            if transformed is not None:
                if self._translation is None:
                    out.append(transformed)
                    out.append(b"\n\n")
                else:
                    out += self._translated(transformed)
            if not self._finished:
                self._finished = self._is_terminal(event)
        return b"".join(out)

    def _is_terminal(self, event: bytes) -> bool:
        if self._wire == "messages":
            return event_name(event) == b"message_stop"
        if self._wire == "responses":
            name = event_name(event)
            self._upstream_failed = name in RESPONSES_FAILED
            return name in RESPONSES_TERMINAL
        return event_data(event) == DONE

    def _translated(self, event: bytes) -> list[bytes]:
        assert self._translation is not None
        data = event_data(event)
        decoded: Any
        try:
            decoded = "[DONE]" if data == DONE else orjson.loads(data)
        except orjson.JSONDecodeError:
            return []  # nothing a translator could say about it
        named = self._api != "chat"
        return [
            encode_event(name, payload, named=named)
            for name, payload in self._translation.feed(event_name(event).decode(), decoded)
        ]

    def _complete(self) -> None:
        ready, loop = self._ready, asyncio.get_running_loop()
        ready.endpoint.latency_ms.add((loop.time() - ready.started) * 1000)
        ready.endpoint.ttft_ms.add((ready.first_byte - ready.started) * 1000)
        self.end = StreamEnd.COMPLETE
        self._lease.succeed(self._relay.tally.usage, self._ready.signal)

    def _fail_by_upstream(self) -> None:
        """The upstream ended a Responses stream with its own failure event (the client has it)."""
        self.end = StreamEnd.MIDSTREAM_FAILURE
        self._lease.fail(Failure.SERVER_ERROR)

    def _fail(self, exc: BaseException) -> bytes:
        """The lease's verdict and the SSE event that tells the client the stream broke."""
        self.end = StreamEnd.MIDSTREAM_FAILURE
        timed_out = isinstance(exc, TimeoutError)
        if timed_out and self._caller_cut:
            self._lease.abandon()  # the caller's own deadline is nobody's fault
        else:
            self._lease.fail(Failure.TIMEOUT if timed_out else Failure.SERVER_ERROR)
        reason = "deadline exceeded" if timed_out else f"upstream stream failed ({type(exc).__name__})"
        return error_event(
            api=self._api, message=f"{reason} after the stream started; request id {self._request_id}"
        )

    def close(self) -> None:
        """Close the upstream and the lease (idempotent); a stream closed before its end lost its client."""
        if self._closed:
            return
        self._closed = True
        if self.end is None:
            self.end = StreamEnd.CLIENT_GONE
        if self._ready.response is not None:
            self._ready.response.close()
        self._lease.close()  # abandons the lease if nothing ended it


def _relay_for(ready: Ready) -> Relay:
    """What reads the endpoint's events: by its API; usage the client did not ask for is stripped only
    when the events go to the client as they are."""
    if ready.wire == "messages":
        return AnthropicRelay()
    if ready.wire == "responses":
        return ResponsesRelay()
    return OpenAIRelay(strip_usage=ready.add_usage and ready.translator is None)


def encode_event(name: str, payload: Any, *, named: bool) -> bytes:
    """One translated event as SSE: with its `event:` line for Messages and Responses clients."""
    data = payload.encode() if isinstance(payload, str) else orjson.dumps(payload)
    if named and name:
        return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"
    return b"data: " + data + b"\n\n"
