"""What a served JSON answer says about itself: token usage, finish reason, whether it is empty (pure).

Read from the endpoint's own answer (its wire API), before any translation, so that nothing the caller's
API cannot say (Anthropic's cache writes) is lost to accounting. An answer that reports no usage (some
self-hosted servers) gets its tokens estimated: the prompt from the sidecar's estimate, the output from
its text (4 characters a token); `estimated` says so, and metrics and the access log carry it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..accounting.usage import Usage
from ..routing.hints import CHARS_PER_TOKEN
from ..routing.request import Api
from .upstreams import anthropic as anthropic_wire
from .upstreams import openai_format as openai_wire


class Answer(NamedTuple):
    """The accounting facts of one answer."""

    usage: Usage
    finish_reason: str
    output_empty: bool
    estimated: bool = False  # the upstream reported no usage: `usage` is the sidecar's estimate


def inspect_answer(api: Api, document: Any, *, prompt_tokens: int = 0) -> Answer:
    """Usage, finish reason and emptiness of an OpenAI, Anthropic or Responses answer (decoded JSON);
    `prompt_tokens`: the sidecar's estimate, used when the answer reports no usage."""
    if api == "messages":
        usage = anthropic_wire.usage_of(document)
    elif api == "responses":
        usage = openai_wire.responses_usage_of(document)
    else:
        usage = openai_wire.usage_of(document)
    finish, text, has_tools = _output_of(api, document)
    empty = not text and not has_tools
    if usage.prompt_tokens or usage.completion_tokens or not isinstance(document, dict):
        return Answer(usage, finish, empty)
    output = (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN
    return Answer(Usage(prompt_tokens, 0 if api == "embeddings" else output), finish, empty, estimated=True)


def _output_of(api: Api, document: Any) -> tuple[str, str, bool]:
    """(finish reason, output text, whether it calls tools) of an answer."""
    if not isinstance(document, dict):
        return "", "", False
    if api == "responses":
        items = [i for i in document.get("output") or () if isinstance(i, dict)]
        parts = [
            p
            for i in items
            if i.get("type") == "message"
            for p in i.get("content") or ()
            if isinstance(p, dict)
        ]
        text = "".join(str(p.get("text") or "") for p in parts)
        has_tools = any(i.get("type") == "function_call" for i in items)
        return openai_wire.responses_finish_of(document), text, has_tools
    if "stop_reason" in document:  # Anthropic message
        content = document.get("content") or []
        text = "".join(str(block.get("text", "")) for block in content if isinstance(block, dict))
        has_tools = any(isinstance(b, dict) and b.get("type") == "tool_use" for b in content)
        return str(document.get("stop_reason") or ""), text, has_tools
    choices = document.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "", "", False
    choice = choices[0]
    message: dict[str, Any] = choice["message"] if isinstance(choice.get("message"), dict) else {}
    output: Any = message.get("content") if message else choice.get("text")
    return (
        str(choice.get("finish_reason") or ""),
        output if isinstance(output, str) else "",
        bool(message.get("tool_calls")),
    )
