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


def first_event_error(event: bytes) -> dict[str, Any] | None:
    """The error object if a stream's first event is an error (a 200 that failed), else None."""
    data = event_data(event)
    is_error_event = event_name(event) == b"error"
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
        self._prompt = 0
        self._cached = 0

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
                self._prompt, self._cached = usage.prompt_tokens, usage.cached_tokens
            delta = document.get("delta") if isinstance(document, dict) else None
            if isinstance(delta, dict) and delta.get("stop_reason"):
                self.tally.finish_reason = str(delta["stop_reason"])
            self.tally.usage = Usage(
                self._prompt, max(usage.completion_tokens, self.tally.usage.completion_tokens), self._cached
            )
        elif name == b"content_block_delta":
            self.tally.output_chars += len(event)
        return event


def error_event(*, api: str, message: str) -> bytes:
    """The SSE event that ends a stream that failed after its first byte."""
    if api == "messages":
        body = {"type": "error", "error": {"type": "api_error", "message": message}}
        return b"event: error\ndata: " + orjson.dumps(body) + b"\n\n"
    body = {
        "error": {"message": message, "type": "upstream_error", "code": "stream_interrupted", "param": None}
    }
    return b"data: " + orjson.dumps(body) + b"\n\n"
