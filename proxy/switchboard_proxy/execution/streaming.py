"""Server-sent events between an upstream and the client: split, inspect, strip, and end loudly.

The executor reads the first event of a stream before anything is sent to the client (failover stays
invisible until then); the relay then copies the rest, taking token usage out of the events on the way
and removing the usage chunk the client did not ask for. A failure after the first byte reached the
client ends the stream with an SSE error event, never with a silent truncation.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from ..accounting.usage import Usage
from .upstreams import anthropic as anthropic_wire
from .upstreams import openai_format as openai_wire

SEPARATORS = (b"\r\n\r\n", b"\n\n")
# Byte patterns of the few chunks worth decoding: a real usage object, or a finish reason.
_INTERESTING = (b'"usage":{', b'"usage": {', b'"finish_reason":"', b'"finish_reason": "')
DONE = b"[DONE]"
# Responses API events that come before any output: they do not commit a stream to its endpoint.
PREAMBLE = frozenset({b"response.created", b"response.in_progress", b"response.queued"})
# The events a Responses stream ends with; the last two are failures.
RESPONSES_TERMINAL = frozenset({b"response.completed", b"response.incomplete", b"response.failed", b"error"})
RESPONSES_FAILED = frozenset({b"response.failed", b"error"})
# `"usage": null` with its comma, wherever it sits in a chunk's object (compact or spaced JSON).
_NULL_USAGE = re.compile(rb',\s*"usage"\s*:\s*null(?=\s*[,}])|"usage"\s*:\s*null\s*,\s*')


async def iter_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[list[bytes]]:
    """Group a byte stream into SSE events (without their blank-line separator), one batch per read."""
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        events: list[bytes] = []
        while True:
            cut, width = _find_separator(buffer)
            if cut < 0:
                break
            event = buffer[:cut]
            buffer = buffer[cut + width :]
            if event.strip():
                events.append(event)
        if events:
            yield events
    if buffer.strip():
        yield [buffer]


def _find_separator(buffer: bytes) -> tuple[int, int]:
    best, width = -1, 0
    for separator in SEPARATORS:
        index = buffer.find(separator)
        if index >= 0 and (best < 0 or index < best):
            best, width = index, len(separator)
    return best, width


def event_data(event: bytes) -> bytes:
    """The `data:` payload of one event (multi-line data joined with newlines)."""
    lines = [line[5:].lstrip(b" ") for line in event.splitlines() if line.startswith(b"data:")]
    return b"\n".join(lines)


def event_name(event: bytes) -> bytes:
    for line in event.splitlines():
        if line.startswith(b"event:"):
            return line[6:].strip()
    return b""


def is_preamble(event: bytes) -> bool:
    """A Responses event before any output (response.created, response.in_progress)."""
    return event_name(event) in PREAMBLE


def first_event_error(event: bytes) -> dict[str, Any] | None:
    """The error object if a stream's first event is an error (a 200 that failed), else None."""
    data = event_data(event)
    name = event_name(event)
    if name == b"response.failed":
        return _failed_response(data)
    is_error_event = name == b"error"
    if not is_error_event and b'"error"' not in data:
        return None
    try:
        decoded = orjson.loads(data) if data and data != DONE else None
    except orjson.JSONDecodeError:
        return {"error": {"message": "malformed first event"}} if is_error_event else None
    if isinstance(decoded, dict) and (
        is_error_event or decoded.get("type") == "error" or decoded.get("error")
    ):
        return decoded
    return None


def _failed_response(data: bytes) -> dict[str, Any]:
    """The error of a Responses stream's `response.failed` event, as an error document."""
    try:
        decoded = orjson.loads(data)
    except orjson.JSONDecodeError:
        decoded = None
    response = decoded.get("response") if isinstance(decoded, dict) else None
    error = response.get("error") if isinstance(response, dict) else None
    return {"error": error if isinstance(error, dict) else {"message": "response failed"}}


def is_comment(event: bytes) -> bool:
    """An SSE comment (`: keep-alive`): no data, no event; proxies send them while a model thinks."""
    return all(line.startswith(b":") for line in event.splitlines() if line.strip())


@dataclass
class StreamTally:
    """What the relay learned while copying: usage and how the generation finished."""

    usage: Usage
    finish_reason: str = ""
    events: int = 0
    output_chars: int = 0
    pieces: int = 0  # events carrying output: about one token each, the estimate when no usage comes


class OpenAIRelay:
    """Copies chat/completions chunks, collecting usage and dropping the usage chunk if unrequested."""

    def __init__(self, *, strip_usage: bool) -> None:
        self.strip_usage = strip_usage
        self.tally = StreamTally(Usage())

    def transform(self, event: bytes) -> bytes | None:
        """The event to send on (None drops it)."""
        self.tally.events += 1
        data = event_data(event)
        if not any(marker in data for marker in _INTERESTING):
            self.tally.output_chars += len(data)
            self.tally.pieces += 1
            if self.strip_usage and b'"usage"' in data:
                # Servers add `"usage": null` to every chunk once usage is asked for; the client did not ask.
                return _NULL_USAGE.sub(b"", event)
            return event
        try:
            chunk = orjson.loads(data)
        except orjson.JSONDecodeError:
            return event
        if not isinstance(chunk, dict):
            return event
        self._note(chunk)
        if self.strip_usage and "usage" in chunk:
            if chunk["usage"] is not None and not chunk.get("choices"):
                return None  # the usage-only chunk we asked for on the client's behalf
            # A finish chunk carries `"usage": null` (or usage next to its choices): not asked for either.
            chunk = {k: v for k, v in chunk.items() if k != "usage"}
            return b"data: " + orjson.dumps(chunk)
        return event

    def _note(self, chunk: dict[str, Any]) -> None:
        usage = openai_wire.usage_of(chunk)
        if usage.prompt_tokens or usage.completion_tokens:
            self.tally.usage = usage
        for choice in chunk.get("choices") or ():
            if isinstance(choice, dict) and choice.get("finish_reason"):
                self.tally.finish_reason = str(choice["finish_reason"])


class AnthropicRelay:
    """Copies Messages events untouched; usage comes from message_start and the last message_delta."""

    def __init__(self) -> None:
        self.tally = StreamTally(Usage())
        self._start = Usage()  # message_start's: the prompt, cache reads and writes

    def transform(self, event: bytes) -> bytes | None:
        self.tally.events += 1
        name = event_name(event)
        if name in (b"message_start", b"message_delta"):
            try:
                document = orjson.loads(event_data(event))
            except orjson.JSONDecodeError:
                return event
            usage = anthropic_wire.usage_of(document)
            if name == b"message_start":
                self._start = usage
            delta = document.get("delta") if isinstance(document, dict) else None
            if isinstance(delta, dict) and delta.get("stop_reason"):
                self.tally.finish_reason = str(delta["stop_reason"])
            # message_delta's usage is cumulative, and may repeat the prompt's counts; its output counts.
            start = self._start if not usage.prompt_tokens else usage
            completion = max(usage.completion_tokens, self.tally.usage.completion_tokens)
            self.tally.usage = start._replace(completion_tokens=completion)
        elif name == b"content_block_delta":
            self.tally.output_chars += len(event)
            self.tally.pieces += 1
        return event


class ResponsesRelay:
    """Copies Responses events untouched; usage and status come from the terminal event's Response."""

    def __init__(self) -> None:
        self.tally = StreamTally(Usage())

    def transform(self, event: bytes) -> bytes | None:
        self.tally.events += 1
        name = event_name(event)
        if name in (b"response.output_text.delta", b"response.function_call_arguments.delta"):
            self.tally.output_chars += len(event)
            self.tally.pieces += 1
        elif name in RESPONSES_TERMINAL:
            try:
                document = orjson.loads(event_data(event))
            except orjson.JSONDecodeError:
                return event
            response = document.get("response") if isinstance(document, dict) else None
            if isinstance(response, dict):
                self.tally.usage = openai_wire.responses_usage_of(response)
                self.tally.finish_reason = openai_wire.responses_finish_of(response)
        return event


def error_event(*, api: str, message: str) -> bytes:
    """The SSE event that ends a stream that failed after its first byte."""
    if api == "messages":
        body = {"type": "error", "error": {"type": "api_error", "message": message}}
        return b"event: error\ndata: " + orjson.dumps(body) + b"\n\n"
    if api == "responses":
        event = {"type": "error", "code": "stream_interrupted", "message": message, "param": None}
        return b"event: error\ndata: " + orjson.dumps({**event, "sequence_number": 0}) + b"\n\n"
    body = {
        "error": {"message": message, "type": "upstream_error", "code": "stream_interrupted", "param": None}
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"
