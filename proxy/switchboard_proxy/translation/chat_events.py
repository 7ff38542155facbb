"""A chat-completion stream as Anthropic Messages events (a Messages client on a chat endpoint).

    first chunk           -> message_start (input tokens are only known at the end: message_delta has them)
    content delta         -> content_block_start (text) once, then text_delta
    tool_calls delta      -> content_block_stop of the open block, content_block_start (tool_use) with the
                             call's id and name, then input_json_delta for its argument pieces
    finish chunk          -> the stop reason, noted; usage chunk -> the usage, noted
    DONE                  -> content_block_stop, message_delta (stop reason, usage), message_stop
    an error chunk        -> an Anthropic `error` event
An upstream that sends no usage (llama.cpp's server ignores `include_usage`) gets the counts estimated:
the prompt from the sidecar's estimate, the output from the pieces streamed (servers stream about one
token per chunk), so the caller never reads zero.
"""

from __future__ import annotations

from typing import Any

from .anthropic_chat import STOP_REASONS, anthropic_usage
from .failures import anthropic_error
from .streams import DONE, Event


class ChatToAnthropic:
    """One stream's state: the open content block, the blocks of each tool call, usage and stop reason."""

    def __init__(self, *, prompt_tokens: int = 0) -> None:
        self.prompt_tokens = prompt_tokens
        self.started = False
        self.blocks = 0  # content blocks started so far
        self.open: int | None = None  # index of the block being streamed
        self.text_block: int | None = None
        self.tool_blocks: dict[int, int] = {}  # tool call index -> block index
        self.pieces = 0
        self.usage: dict[str, Any] | None = None
        self.finish = "stop"
        self.refused = False

    def feed(self, name: str, data: Any) -> list[Event]:
        if data == DONE:
            return self._end()
        if not isinstance(data, dict):
            return []
        if "error" in data and not data.get("choices"):
            return [("error", anthropic_error(500, data))]
        events = [] if self.started else [self._start(data)]
        self.started = True
        if isinstance(data.get("usage"), dict):
            self.usage = data["usage"]
        for choice in data.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("content"):
                events += self._text(str(delta["content"]))
            if delta.get("refusal"):  # a refusal reads as text, and the message stops as a refusal
                self.refused = True
                events += self._text(str(delta["refusal"]))
            for call in delta.get("tool_calls") or ():
                events += self._tool(call)
            if choice.get("finish_reason"):
                self.finish = str(choice["finish_reason"])
        return events

    def _start(self, chunk: dict[str, Any]) -> Event:
        message: dict[str, Any] = {
            "id": str(chunk.get("id") or ""),
            "type": "message",
            "role": "assistant",
            "model": str(chunk.get("model") or ""),
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return "message_start", {"type": "message_start", "message": message}

    def _open(self, block: dict[str, Any]) -> list[Event]:
        events = self._close()
        self.open = self.blocks
        self.blocks += 1
        start = {"type": "content_block_start", "index": self.open, "content_block": block}
        return [*events, ("content_block_start", start)]

    def _close(self) -> list[Event]:
        if self.open is None:
            return []
        index, self.open = self.open, None
        return [("content_block_stop", {"type": "content_block_stop", "index": index})]

    def _text(self, text: str) -> list[Event]:
        self.pieces += 1
        events: list[Event] = []
        if self.text_block is None or self.open != self.text_block:
            events = self._open({"type": "text", "text": ""})
            self.text_block = self.open
        delta = {
            "type": "content_block_delta",
            "index": self.open,
            "delta": {"type": "text_delta", "text": text},
        }
        return [*events, ("content_block_delta", delta)]

    def _tool(self, call: dict[str, Any]) -> list[Event]:
        number = int(call.get("index", 0))
        function = call.get("function") or {}
        events: list[Event] = []
        if number not in self.tool_blocks:
            block = {
                "type": "tool_use",
                "id": str(call.get("id") or ""),
                "name": str(function.get("name") or ""),
                "input": {},
            }
            events = self._open(block)
            assert self.open is not None
            self.tool_blocks[number] = self.open
        arguments = function.get("arguments")
        if arguments:
            self.pieces += 1
            delta = {
                "type": "content_block_delta",
                "index": self.tool_blocks[number],
                "delta": {"type": "input_json_delta", "partial_json": str(arguments)},
            }
            events.append(("content_block_delta", delta))
        return events

    def _end(self) -> list[Event]:
        usage = anthropic_usage(self.usage) if self.usage else self._estimate()
        reason = "refusal" if self.refused else STOP_REASONS.get(self.finish, "end_turn")
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": reason, "stop_sequence": None},
            "usage": usage,
        }
        events = [] if self.started else [self._start({})]  # a stream with nothing in it but its end
        self.started = True
        if not self.blocks:  # an empty answer is one empty text block, as in a non-streamed message
            events += [*self._open({"type": "text", "text": ""}), *self._close()]
        return [*events, *self._close(), ("message_delta", delta), ("message_stop", {"type": "message_stop"})]

    def _estimate(self) -> dict[str, int]:
        return {
            "input_tokens": self.prompt_tokens,
            "output_tokens": self.pieces,
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        }
