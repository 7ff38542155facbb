"""An Anthropic Messages stream as chat-completion chunks (a chat client on an Anthropic endpoint).

    message_start                  -> a chunk with the assistant role
    content_block_start tool_use   -> a tool_calls delta with the call's id and name
    content_block_delta text_delta -> a content delta; input_json_delta -> an arguments delta
    message_delta                  -> the finish chunk (stop reason mapped), usage noted
    message_stop                   -> the usage chunk (when asked for) and DONE
    error                          -> an OpenAI error event (the stream ends)
ping, thinking and signature deltas and block stops have no chat counterpart and are dropped.
"""

from __future__ import annotations

from typing import Any

from .chat_anthropic import FINISH_REASONS, chat_usage
from .failures import openai_error
from .streams import DONE, Event


class AnthropicToChat:
    """One stream's state: its id, model, tool-call numbering and usage."""

    def __init__(self, *, created: int, include_usage: bool) -> None:
        self.created = created
        self.include_usage = include_usage
        self.id = ""
        self.model = ""
        self.usage: dict[str, Any] = {}
        self.tool_index: dict[int, int] = {}  # content block index -> tool call index

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> Event:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return "", self._base([choice])

    def _base(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": choices,
        }

    def feed(self, name: str, data: Any) -> list[Event]:
        if not isinstance(data, dict):
            return []
        kind = data.get("type", name)
        if kind == "message_start":
            message = data.get("message") or {}
            self.id, self.model = str(message.get("id") or ""), str(message.get("model") or "")
            self.usage = dict(message.get("usage") or {})
            return [self.chunk({"role": "assistant", "content": ""})]
        if kind == "content_block_start":
            return self._block_start(data)
        if kind == "content_block_delta":
            return self._delta(data)
        if kind == "message_delta":
            usage = data.get("usage") or {}
            self.usage.update({k: v for k, v in usage.items() if v is not None})
            reason = (data.get("delta") or {}).get("stop_reason")
            return [self.chunk({}, FINISH_REASONS.get(str(reason or "end_turn"), "stop"))]
        if kind == "message_stop":
            tail: list[Event] = []
            if self.include_usage:
                tail.append(("", {**self._base([]), "usage": chat_usage(self.usage)}))
            return [*tail, ("", DONE)]
        if kind == "error":
            return [("", openai_error(500, data))]
        return []

    def _block_start(self, data: dict[str, Any]) -> list[Event]:
        block = data.get("content_block") or {}
        if block.get("type") == "tool_use":
            number = self.tool_index[int(data.get("index", 0))] = len(self.tool_index)
            call = {
                "index": number,
                "id": str(block.get("id") or ""),
                "type": "function",
                "function": {"name": str(block.get("name") or ""), "arguments": ""},
            }
            return [self.chunk({"tool_calls": [call]})]
        if block.get("type") == "text" and block.get("text"):
            return [self.chunk({"content": str(block["text"])})]
        return []

    def _delta(self, data: dict[str, Any]) -> list[Event]:
        delta = data.get("delta") or {}
        if delta.get("type") == "text_delta":
            return [self.chunk({"content": str(delta.get("text") or "")})]
        if delta.get("type") == "input_json_delta":
            number = self.tool_index.get(int(data.get("index", 0)))
            if number is None:
                return []
            call = {"index": number, "function": {"arguments": str(delta.get("partial_json") or "")}}
            return [self.chunk({"tool_calls": [call]})]
        return []
