"""A Responses API client on a chat-completions endpoint: the request as chat, the answer as a Response.

Request: `instructions` becomes the system message; `input` (a string, or items) becomes messages:
message items by role (input_text/output_text parts, input_image parts as image URLs), consecutive
`function_call` items one assistant message with `tool_calls`, `function_call_output` items `tool`
messages; reasoning items stay behind. Function tools, `tool_choice`, `max_output_tokens`,
`text.format` (JSON object or schema) and `reasoning.effort` map to their chat fields. What needs the
provider's server-side state (`previous_response_id`, `store: true`, `background`, `conversation`, item
references) or its built-in tools cannot be translated: the planner sends such requests only to
endpoints with the `responses` capability, and this module refuses them if they get here anyway.
Answer: the completion becomes a Response with output items (a message with output_text, function
calls), its status (incomplete for a length cut) and usage; the request's own settings are echoed as
the Responses API does.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .anthropic_chat import flatten
from .failures import TranslationError, array_field, object_field

STATEFUL = ("previous_response_id", "conversation", "background")
PASSED = ("temperature", "top_p", "stream", "user", "parallel_tool_calls")


def chat_request(body: dict[str, Any]) -> dict[str, Any]:
    """A Responses request body as a chat-completions request."""
    for name in STATEFUL:
        if body.get(name):
            raise TranslationError(
                f"'{name}' needs an endpoint that serves the Responses API itself", param=name
            )
    if body.get("store") is True:
        raise TranslationError(
            "'store: true' needs an endpoint that serves the Responses API itself", param="store"
        )
    messages: list[dict[str, Any]] = []
    if isinstance(body.get("instructions"), str) and body["instructions"]:
        messages.append({"role": "system", "content": body["instructions"]})
    messages += input_messages(body.get("input"))
    request: dict[str, Any] = {"model": body.get("model", ""), "messages": messages}
    for name in PASSED:
        if name in body and body[name] is not None:
            request[name] = body[name]
    if isinstance(body.get("max_output_tokens"), int):
        request["max_tokens"] = body["max_output_tokens"]
    if tools := array_field(body, "tools"):
        request["tools"] = [_tool(tool, index) for index, tool in enumerate(tools)]
    if body.get("tool_choice") is not None:
        request["tool_choice"] = _tool_choice(body["tool_choice"])
    response_format = _format(object_field(body, "text").get("format"))
    if response_format is not None:
        request["response_format"] = response_format
    effort = object_field(body, "reasoning").get("effort")
    if isinstance(effort, str):
        request["reasoning_effort"] = effort
    return request


def input_messages(items: Any) -> list[dict[str, Any]]:
    """`input` (a string or a list of items) as chat messages."""
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    if not isinstance(items, list):
        raise TranslationError("'input' must be a string or an array of items", param="input")
    messages: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        where = f"input[{index}]"
        kind = item.get("type", "message") if isinstance(item, dict) else None
        if kind == "message":
            messages.append(_message(item, where))
        elif kind == "function_call":
            call = {
                "id": str(item.get("call_id") or ""),
                "type": "function",
                "function": {
                    "name": str(item.get("name") or ""),
                    "arguments": str(item.get("arguments") or ""),
                },
            }
            previous = messages[-1] if messages else None
            if previous is not None and previous["role"] == "assistant" and not previous.get("content"):
                previous.setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            output = item.get("output")
            text = output if isinstance(output, str) else _text(output, where)
            messages.append({"role": "tool", "tool_call_id": str(item.get("call_id") or ""), "content": text})
        elif kind == "reasoning":
            continue  # a model's reasoning is its provider's; a chat model has no use for it
        else:
            raise TranslationError(
                f"input item {kind!r} needs an endpoint that serves the Responses API", param=where
            )
    return messages


def _message(item: dict[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise TranslationError(f"role {role!r} is not a Responses role", param=where)
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if role != "user":
        return {"role": role, "content": _text(content, where)}
    parts: list[dict[str, Any]] = []
    for number, part in enumerate(content if isinstance(content, list) else ()):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": str(part.get("text") or "")})
        elif kind == "input_image" and part.get("image_url"):
            image: dict[str, Any] = {"url": str(part["image_url"])}
            if part.get("detail") in ("low", "high"):
                image["detail"] = part["detail"]
            parts.append({"type": "image_url", "image_url": image})
        else:
            raise TranslationError(
                f"content part {kind!r} cannot be sent to a chat endpoint", param=f"{where}.content[{number}]"
            )
    return {"role": "user", "content": flatten(parts)}


def _text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for part in content if isinstance(content, list) else ():
        if isinstance(part, dict) and part.get("type") in ("input_text", "output_text", "text"):
            texts.append(str(part.get("text") or ""))
        elif isinstance(part, dict) and part.get("type") == "refusal":
            texts.append(str(part.get("refusal") or ""))
        else:
            raise TranslationError("only text can be sent here to a chat endpoint", param=where)
    return "".join(texts)


def _tool(tool: Any, index: int) -> dict[str, Any]:
    if not isinstance(tool, dict) or tool.get("type") != "function":
        kind = tool.get("type") if isinstance(tool, dict) else None
        raise TranslationError(
            f"the built-in tool {kind!r} needs an endpoint that serves the Responses API",
            param=f"tools[{index}]",
        )
    function = {
        k: tool[k] for k in ("name", "description", "parameters", "strict") if tool.get(k) is not None
    }
    return {"type": "function", "function": function}


def _tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice.get("name", "")}}
    raise TranslationError(
        "this tool_choice needs an endpoint that serves the Responses API", param="tool_choice"
    )


def _format(text_format: Any) -> dict[str, Any] | None:
    if not isinstance(text_format, dict) or text_format.get("type") in (None, "text"):
        return None
    if text_format["type"] == "json_object":
        return {"type": "json_object"}
    if text_format["type"] == "json_schema":
        schema = {k: text_format[k] for k in ("name", "schema", "strict", "description") if k in text_format}
        return {"type": "json_schema", "json_schema": schema}
    raise TranslationError("text.format must be text, json_object or json_schema", param="text.format")


def response_of(completion: dict[str, Any], request: dict[str, Any], *, created: int) -> dict[str, Any]:
    """A chat completion as a Response to `request` (the caller's Responses body)."""
    choices = completion.get("choices") or [{}]
    choice = choices[0] if isinstance(choices[0], dict) else {}
    reply = choice.get("message") or {}
    base = str(completion.get("id") or "completion")
    output: list[dict[str, Any]] = []
    text = reply.get("content")
    if text or reply.get("refusal") or not reply.get("tool_calls"):
        output.append(message_item(f"msg_{base}", str(text or ""), refusal=reply.get("refusal")))
    for call in reply.get("tool_calls") or ():
        function = call.get("function") or {}
        output.append(
            function_item(
                str(call.get("id") or ""),
                str(function.get("name") or ""),
                str(function.get("arguments") or ""),
            )
        )
    finish = str(choice.get("finish_reason") or "stop")
    head = ResponseHead(
        f"resp_{base}", str(completion.get("model") or ""), int(completion.get("created") or created)
    )
    return response_document(head, request, output=output, usage=completion.get("usage"), finish=finish)


def message_item(
    item_id: str, text: str, *, refusal: Any = None, status: str = "completed"
) -> dict[str, Any]:
    part: dict[str, Any] = (
        {"type": "refusal", "refusal": str(refusal)}
        if refusal
        else {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    )
    return {"type": "message", "id": item_id, "status": status, "role": "assistant", "content": [part]}


def function_item(call_id: str, name: str, arguments: str, *, status: str = "completed") -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": f"fc_{call_id}",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


class ResponseHead(NamedTuple):
    """What names a Response: its id, model and creation time."""

    id: str
    model: str
    created: int


def response_document(
    head: ResponseHead,
    request: dict[str, Any],
    *,
    output: list[dict[str, Any]],
    usage: Any,
    finish: str | None,
) -> dict[str, Any]:
    """A Response object: `finish` None while in progress, else the chat finish reason it ended with."""
    status, incomplete = "in_progress", None
    if finish == "length":
        status, incomplete = "incomplete", {"reason": "max_output_tokens"}
    elif finish == "content_filter":
        status, incomplete = "incomplete", {"reason": "content_filter"}
    elif finish is not None:
        status = "completed"
    return {
        "id": head.id,
        "object": "response",
        "created_at": head.created,
        "status": status,
        "error": None,
        "incomplete_details": incomplete,
        "instructions": request.get("instructions"),
        "max_output_tokens": request.get("max_output_tokens"),
        "model": head.model,
        "output": output,
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "previous_response_id": None,
        "store": False,
        "temperature": request.get("temperature"),
        "text": request.get("text") or {"format": {"type": "text"}},
        "tool_choice": request.get("tool_choice", "auto"),
        "tools": request.get("tools") or [],
        "top_p": request.get("top_p"),
        "truncation": "disabled",
        "usage": responses_usage(usage) if finish is not None else None,
        "user": request.get("user"),
        "metadata": request.get("metadata") or {},
    }


def responses_usage(usage: Any) -> dict[str, Any]:
    usage = usage if isinstance(usage, dict) else {}
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else 0
    prompt = usage.get("prompt_tokens") if isinstance(usage.get("prompt_tokens"), int) else 0
    completion = usage.get("completion_tokens") if isinstance(usage.get("completion_tokens"), int) else 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": cached if isinstance(cached, int) else 0,
            "cache_write_tokens": 0,
        },
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }
