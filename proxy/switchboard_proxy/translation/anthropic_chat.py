"""An Anthropic Messages client served by a chat-completions endpoint: the request as chat, the answer back.

Request: `system` becomes the first message; text and image blocks become content parts (text-only
turns become plain strings, which every OpenAI-compatible server's chat template understands);
`tool_use` blocks become the assistant's `tool_calls`, and `tool_result` blocks become `tool` messages
placed right after them; `stop_sequences` becomes `stop`, `tool_choice` any/tool/none become
required/function/none, and `disable_parallel_tool_use` becomes `parallel_tool_calls: false`. Answer:
content and tool calls become text and `tool_use` blocks, finish reasons become stop reasons, and usage
is split the Anthropic way (`input_tokens` without the cached prompt tokens, which are
`cache_read_input_tokens`).
"""

from __future__ import annotations

from typing import Any

import orjson

from .failures import TranslationError, array_field

# chat finish_reason -> Messages stop_reason.
STOP_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
PASSED = ("max_tokens", "temperature", "top_p", "stream")


def chat_request(body: dict[str, Any]) -> dict[str, Any]:
    """A Messages request body as a chat-completions request."""
    messages: list[dict[str, Any]] = []
    system = system_text(body.get("system"))
    if system:
        messages.append({"role": "system", "content": system})
    for index, turn in enumerate(body.get("messages") or []):
        messages += _messages_of(turn, f"messages[{index}]")
    request: dict[str, Any] = {"model": body.get("model", ""), "messages": messages}
    for name in PASSED:
        if name in body and body[name] is not None:
            request[name] = body[name]
    if stop := array_field(body, "stop_sequences"):
        request["stop"] = stop
    if tools := array_field(body, "tools"):
        request["tools"] = [_tool(tool, index) for index, tool in enumerate(tools)]
    request.update(_tool_choice(body.get("tool_choice")))
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        request["user"] = metadata["user_id"]
    return request


def system_text(system: Any) -> str:
    """`system` as one string (it may be a list of text blocks, e.g. with cache_control)."""
    if isinstance(system, list):
        return "\n\n".join(str(b.get("text") or "") for b in system if isinstance(b, dict) and b.get("text"))
    return system if isinstance(system, str) else ""


def _messages_of(turn: dict[str, Any], where: str) -> list[dict[str, Any]]:
    role, content = turn.get("role"), turn.get("content")
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
    if not isinstance(blocks, list):
        raise TranslationError("content must be a string or an array of blocks", param=where)
    if role == "assistant":
        return [_assistant(blocks, where)]
    if role != "user":
        raise TranslationError(f"role {role!r} is not a Messages role", param=where)
    tools: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for number, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "tool_result":
            tools.append(_tool_message(block, f"{where}.content[{number}]"))
        else:
            parts += _user_parts(block, kind, f"{where}.content[{number}]")
    # Tool results answer the assistant's tool calls and must come right after them.
    return tools + ([{"role": "user", "content": flatten(parts)}] if parts else [])


def flatten(parts: list[dict[str, Any]]) -> Any:
    """Content parts as a plain string when they are all text (what chat templates expect most)."""
    if all(part.get("type") == "text" for part in parts):
        return "".join(str(part.get("text") or "") for part in parts)
    return parts


def _user_parts(block: Any, kind: Any, where: str) -> list[dict[str, Any]]:
    if kind == "text":
        return [{"type": "text", "text": str(block.get("text") or "")}]
    if kind == "image":
        return [{"type": "image_url", "image_url": {"url": image_url(block.get("source"), where)}}]
    raise TranslationError(f"content block {kind!r} cannot be sent to a chat endpoint", param=where)


def image_url(source: Any, where: str) -> str:
    """A Messages image source as a URL (base64 data as a data: URL)."""
    if isinstance(source, dict) and source.get("type") == "base64":
        return f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    if isinstance(source, dict) and source.get("type") == "url":
        return str(source.get("url") or "")
    raise TranslationError("an image source must be base64 or a URL", param=where)


def _tool_message(block: dict[str, Any], where: str) -> dict[str, Any]:
    content = block.get("content")
    if isinstance(content, list):
        texts = []
        for part in content:
            if not (isinstance(part, dict) and part.get("type") == "text"):
                raise TranslationError("only text tool results can be sent to a chat endpoint", param=where)
            texts.append(str(part.get("text") or ""))
        content = "".join(texts)
    text = content if isinstance(content, str) else ""
    if block.get("is_error"):
        text = f"Error: {text}"
    return {"role": "tool", "tool_call_id": str(block.get("tool_use_id") or ""), "content": text}


def _assistant(blocks: list[Any], where: str) -> dict[str, Any]:
    text = ""
    calls: list[dict[str, Any]] = []
    for number, block in enumerate(blocks):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            text += str(block.get("text") or "")
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(
                {
                    "id": str(block.get("id") or ""),
                    "type": "function",
                    "function": {"name": str(block.get("name") or ""), "arguments": arguments},
                }
            )
        elif kind not in ("thinking", "redacted_thinking"):  # a model's reasoning is its own
            raise TranslationError(
                f"content block {kind!r} cannot be sent to a chat endpoint",
                param=f"{where}.content[{number}]",
            )
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if calls:
        message["tool_calls"] = calls
    return message


def _tool(tool: Any, index: int) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") not in (None, "custom") or "name" not in tool:
        raise TranslationError("only client tools can be sent to a chat endpoint", param=f"tools[{index}]")
    function: dict[str, Any] = {
        "name": tool["name"],
        "parameters": tool.get("input_schema") or {"type": "object", "properties": {}},
    }
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _tool_choice(choice: Any) -> dict[str, Any]:
    if not isinstance(choice, dict):
        return {}
    kind = choice.get("type")
    fields: dict[str, Any] = {}
    if kind == "auto":
        fields["tool_choice"] = "auto"
    elif kind == "any":
        fields["tool_choice"] = "required"
    elif kind == "none":
        fields["tool_choice"] = "none"
    elif kind == "tool":
        fields["tool_choice"] = {"type": "function", "function": {"name": choice.get("name", "")}}
    else:
        raise TranslationError(f"tool_choice {kind!r} cannot be sent to a chat endpoint", param="tool_choice")
    if choice.get("disable_parallel_tool_use"):
        fields["parallel_tool_calls"] = False
    return fields


def anthropic_message(completion: dict[str, Any]) -> dict[str, Any]:
    """A chat completion as a Messages answer."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    reply = choice.get("message") or {}
    content: list[dict[str, Any]] = []
    text = reply.get("content") or reply.get("refusal") or ""
    if text or not reply.get("tool_calls"):
        content.append({"type": "text", "text": str(text)})
    for number, call in enumerate(reply.get("tool_calls") or ()):
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": str(call.get("id") or f"toolu_{number}"),
                "name": str(function.get("name") or ""),
                "input": arguments_object(function.get("arguments")),
            }
        )
    finish = "content_filter" if reply.get("refusal") else str(choice.get("finish_reason") or "stop")
    return {
        "id": str(completion.get("id") or ""),
        "type": "message",
        "role": "assistant",
        "model": str(completion.get("model") or ""),
        "content": content,
        "stop_reason": STOP_REASONS.get(finish, "end_turn"),
        "stop_sequence": None,
        "usage": anthropic_usage(completion.get("usage")),
    }


def arguments_object(arguments: Any) -> dict[str, Any]:
    """A model's function arguments as an object; arguments that are no JSON object are kept as text."""
    if isinstance(arguments, dict):
        return arguments
    try:
        decoded = orjson.loads(arguments) if arguments else {}
    except (orjson.JSONDecodeError, TypeError):
        decoded = None
    return decoded if isinstance(decoded, dict) else {"arguments": arguments}


def anthropic_usage(usage: Any) -> dict[str, int]:
    """Chat usage the Anthropic way: input_tokens leaves out the cached prompt tokens."""
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    cached = _count(details.get("cached_tokens")) if isinstance(details, dict) else 0
    prompt = _count(usage.get("prompt_tokens"))
    return {
        "input_tokens": max(0, prompt - cached),
        "output_tokens": _count(usage.get("completion_tokens")),
        "cache_read_input_tokens": cached,
        "cache_creation_input_tokens": 0,
    }


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
