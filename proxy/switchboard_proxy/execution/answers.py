"""What a served JSON answer says about itself: token usage, finish reason, whether it is empty (pure)."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..accounting.usage import Usage
from ..routing.request import Api
from .upstreams import anthropic as anthropic_wire
from .upstreams import openai_format as openai_wire


class Answer(NamedTuple):
    """The accounting facts of one answer."""

    usage: Usage
    finish_reason: str
    output_empty: bool


def inspect_answer(api: Api, document: Any) -> Answer:
    """Usage, finish reason and emptiness of an OpenAI or Anthropic answer (decoded JSON)."""
    usage = anthropic_wire.usage_of(document) if api == "messages" else openai_wire.usage_of(document)
    finish, empty = _finish_of(document)
    return Answer(usage, finish, empty)


def _finish_of(document: Any) -> tuple[str, bool]:
    if not isinstance(document, dict):
        return "", False
    if "stop_reason" in document:  # Anthropic message
        content = document.get("content") or []
        text = "".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
        has_tools = any(isinstance(b, dict) and b.get("type") == "tool_use" for b in content)
        return str(document.get("stop_reason") or ""), not text and not has_tools
    choices = document.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "", False
    choice = choices[0]
    message: dict[str, Any] = choice["message"] if isinstance(choice.get("message"), dict) else {}
    output: Any = message.get("content") if message else choice.get("text")
    return str(choice.get("finish_reason") or ""), not output and not message.get("tool_calls")
