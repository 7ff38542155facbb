"""A chat-completions client served by an Anthropic endpoint: the request as Messages, the message back.

Request: system and developer messages become `system`; user, assistant and tool messages become
alternating user/assistant turns (consecutive turns of one role are merged, tool results ride in the
next user turn as `tool_result` blocks); `tool_calls` become `tool_use` blocks; image parts become image
blocks (data URLs as base64, others as URL sources); `stop` becomes `stop_sequences`; `max_tokens` is
required by Messages, so the endpoint's output cap stands in when the caller sets none; the sampling
parameters (temperature, top_p) stay behind: today's Messages API has none (the anthropic SDK's
MessageCreateParams lists none). Answer: text and `tool_use` blocks become the assistant message and its
`tool_calls`; stop reasons and usage (cache reads counted among the prompt tokens) are mapped back.
"""

from __future__ import annotations

from typing import Any

import orjson

from .failures import TranslationError, array_field

# Messages stop_reason -> chat finish_reason.
FINISH_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
PASSED = ("stream",)


def anthropic_request(body: dict[str, Any], *, max_tokens: int) -> dict[str, Any]:
    """A chat-completions request body as a Messages request; `max_tokens`: the default output cap."""
    if isinstance(body.get("n"), int) and body["n"] > 1:
        raise TranslationError("n > 1 cannot be served by an Anthropic endpoint", param="n")
    system, turns = _turns(body.get("messages") or [])
    request: dict[str, Any] = {"model": body.get("model", ""), "messages": turns}
    request["max_tokens"] = _max_tokens(body) or max_tokens
    if system:
        request["system"] = "\n\n".join(system)
    for name in PASSED:
        if name in body and body[name] is not None:
            request[name] = body[name]
    stop = array_field(body, "stop", strings=True)
    if stop:
        request["stop_sequences"] = stop
    if tools := array_field(body, "tools"):
        request["tools"] = [_tool(tool, index) for index, tool in enumerate(tools)]
    choice = _tool_choice(body.get("tool_choice"), parallel=body.get("parallel_tool_calls"))
    if choice is not None:
        request["tool_choice"] = choice
    if isinstance(body.get("user"), str):
        request["metadata"] = {"user_id": body["user"]}
    _json_instruction(request, body.get("response_format"))
    return request


def _max_tokens(body: dict[str, Any]) -> int:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0


def _turns(messages: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        where = f"messages[{index}]"
        if role in ("system", "developer"):
            text = _text_of(message.get("content"), where)
            if text:
                system.append(text)
        elif role == "user":
            _append(turns, "user", _user_blocks(message.get("content"), where))
        elif role == "assistant":
            _append(turns, "assistant", _assistant_blocks(message, where))
        elif role == "tool":
            result = {
                "type": "tool_result",
                "tool_use_id": str(message.get("tool_call_id") or ""),
                "content": _text_of(message.get("content"), where),
            }
            _append(turns, "user", [result])
        else:
            raise TranslationError(f"role {role!r} cannot be sent to an Anthropic endpoint", param=where)
    return system, turns


def _append(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    """Messages alternates user and assistant: a second turn of the same role joins the previous one."""
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _text_of(content: Any, where: str) -> str:
    """The text of a string or of a list of text parts."""
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") in ("text", "input_text", "output_text"):
                texts.append(str(part.get("text") or ""))
            elif isinstance(part, str):
                texts.append(part)
            else:
                raise TranslationError("only text can be sent here to an Anthropic endpoint", param=where)
        return "".join(texts)
    raise TranslationError("content must be a string or an array of parts", param=where)


def _user_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if content is None or isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise TranslationError("content must be a string or an array of parts", param=where)
    blocks: list[dict[str, Any]] = []
    for number, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                blocks.append({"type": "text", "text": str(part["text"])})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            blocks.append(image_block(str(url or ""), f"{where}.content[{number}]"))
        else:
            raise TranslationError(
                f"content part {kind!r} cannot be sent to an Anthropic endpoint", param=f"{where}.content"
            )
    return blocks


def image_block(url: str, where: str) -> dict[str, Any]:
    """An image URL (a data: URL or http(s)) as a Messages image block."""
    if url.startswith("data:"):
        header, _, data = url[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if encoding != "base64" or not data:
            raise TranslationError("an image data URL must be base64", param=where)
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise TranslationError("an image must be a data: or http(s) URL", param=where)


def _assistant_blocks(message: dict[str, Any], where: str) -> list[dict[str, Any]]:
    text = _text_of(message.get("content"), where)
    blocks: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    for number, call in enumerate(array_field(message, "tool_calls", where=where)):
        function = call.get("function") or {} if isinstance(call, dict) else None
        if not isinstance(function, dict):
            param = f"{where}.tool_calls[{number}]"
            raise TranslationError(f"'{param}' must be an object with a function object", param=param)
        blocks.append(
            {
                "type": "tool_use",
                "id": str(call.get("id") or ""),
                "name": str(function.get("name") or ""),
                "input": tool_input(function.get("arguments"), f"{where}.tool_calls[{number}]"),
            }
        )
    return blocks


def tool_input(arguments: Any, where: str) -> dict[str, Any]:
    """A function call's JSON arguments as a tool_use input object."""
    if isinstance(arguments, dict):
        return arguments
    if not arguments:
        return {}
    try:
        decoded = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        raise TranslationError("tool call arguments must be a JSON object", param=where) from None
    if not isinstance(decoded, dict):
        raise TranslationError("tool call arguments must be a JSON object", param=where)
    return decoded


def _tool(tool: Any, index: int) -> dict[str, Any]:
    function = tool.get("function") if isinstance(tool, dict) and tool.get("type") == "function" else None
    if not isinstance(function, dict):
        raise TranslationError(
            "only function tools can be sent to an Anthropic endpoint", param=f"tools[{index}]"
        )
    converted: dict[str, Any] = {
        "name": function.get("name", ""),
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        converted["description"] = function["description"]
    return converted


def _tool_choice(choice: Any, *, parallel: Any) -> dict[str, Any] | None:
    converted: dict[str, Any] | None
    if choice is None:
        converted = None
    elif choice == "none":
        return {"type": "none"}
    elif choice == "auto":
        converted = {"type": "auto"}
    elif choice == "required":
        converted = {"type": "any"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        converted = {"type": "tool", "name": choice["function"].get("name", "")}
    else:
        raise TranslationError("tool_choice cannot be sent to an Anthropic endpoint", param="tool_choice")
    if parallel is False:
        converted = {**(converted or {"type": "auto"}), "disable_parallel_tool_use": True}
    return converted


def _json_instruction(request: dict[str, Any], response_format: Any) -> None:
    """Messages has no JSON mode: the format becomes an instruction in the system prompt."""
    if not isinstance(response_format, dict) or response_format.get("type") not in (
        "json_object",
        "json_schema",
    ):
        return
    note = "Answer with a single JSON object and nothing else."
    schema = (response_format.get("json_schema") or {}).get("schema")
    if schema is not None:
        note += " It must match this JSON schema: " + orjson.dumps(schema).decode()
    request["system"] = f"{request['system']}\n\n{note}" if request.get("system") else note


def chat_completion(message: dict[str, Any], *, created: int) -> dict[str, Any]:
    """A Messages answer as a chat completion."""
    text = ""
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        if block.get("type") == "text":
            text += str(block.get("text") or "")
        elif block.get("type") == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            calls.append(
                {
                    "id": block.get("id", ""),
                    "type": "function",
                    "function": {"name": block.get("name", ""), "arguments": arguments},
                }
            )
    reply: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else ""), "refusal": None}
    if calls:
        reply["tool_calls"] = calls
    finish = FINISH_REASONS.get(str(message.get("stop_reason") or "end_turn"), "stop")
    return {
        "id": str(message.get("id") or ""),
        "object": "chat.completion",
        "created": created,
        "model": str(message.get("model") or ""),
        "choices": [{"index": 0, "message": reply, "logprobs": None, "finish_reason": finish}],
        "usage": chat_usage(message.get("usage")),
    }


def chat_usage(usage: Any) -> dict[str, Any]:
    """Messages usage as chat usage: every prompt token counts, the cache reads among them as cached."""
    usage = usage if isinstance(usage, dict) else {}
    read = _count(usage.get("cache_read_input_tokens"))
    prompt = _count(usage.get("input_tokens")) + read + _count(usage.get("cache_creation_input_tokens"))
    completion = _count(usage.get("output_tokens"))
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": read},
    }


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
