"""The static degraded answer, when every attempt failed or the deadline ran out: what the policy says.

`static` answers the policy's status and body in the caller's API shape: as an Anthropic message on
/v1/messages, as a Response on /v1/responses (its typed events when streamed, made by the same
translator that serves Responses clients from chat endpoints) and as a text completion on
/v1/completions when the body is chat-shaped (the default one is), and as an SSE stream when the caller
streams, so editors see "no suggestion" rather than an error.
Embeddings never get here (the executor answers them with an error instead), nor does mode `error`.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web

from ..config.model import DegradedConfig
from ..routing.request import Api
from ..translation.responses_chat import response_of
from ..translation.responses_events import ChatToResponses
from ..translation.streams import DONE


def degraded_response(
    api: Api, degraded: DegradedConfig, headers: dict[str, str], *, stream: bool
) -> web.Response:
    """The policy's static answer in the caller's API shape, as SSE when the caller streams."""
    body: dict[str, Any] = dict(degraded.body)
    if api == "responses" and _is_chat_shaped(body):
        return _as_response(body, degraded.status, headers, stream=stream)
    if api == "messages" and "choices" in body:
        body = as_anthropic_message(body)
    elif api == "completions" and _is_chat_shaped(body):
        body = as_text_completion(body)
    if stream and 200 <= degraded.status < 300:
        events = (
            as_anthropic_events(body)
            if api == "messages"
            else as_openai_events(body, text_completion=api == "completions")
        )
        return web.Response(
            status=degraded.status, body=events, content_type="text/event-stream", headers=headers
        )
    return web.Response(
        status=degraded.status, body=orjson.dumps(body), content_type="application/json", headers=headers
    )


def _as_response(body: dict[str, Any], status: int, headers: dict[str, str], *, stream: bool) -> web.Response:
    """The chat-shaped degraded body as a Response, or as the Responses events of one."""
    text, finish = _first_text(body)
    created = int(time.time())
    completion = {
        "id": "degraded",
        "created": created,
        "model": "switchboard-degraded",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0},
    }
    if not (stream and 200 <= status < 300):
        document = response_of(completion, {}, created=created)
        return web.Response(
            status=status, body=orjson.dumps(document), content_type="application/json", headers=headers
        )
    translator = ChatToResponses({}, created=created)
    chunk = {**completion, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}
    events = translator.feed("", chunk) + translator.feed("", DONE)
    payload = b"".join(b"event: " + n.encode() + b"\ndata: " + orjson.dumps(d) + b"\n\n" for n, d in events)
    return web.Response(status=status, body=payload, content_type="text/event-stream", headers=headers)


def _first_text(body: dict[str, Any]) -> tuple[str, str]:
    choice = (body.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    return str(message.get("content") or choice.get("text") or ""), str(choice.get("finish_reason") or "stop")


def _is_chat_shaped(body: dict[str, Any]) -> bool:
    choices = body.get("choices")
    return (
        bool(choices)
        and isinstance(choices, list)
        and all(isinstance(c, dict) and "message" in c and "text" not in c for c in choices)
    )


def as_text_completion(body: dict[str, Any]) -> dict[str, Any]:
    """A chat-shaped degraded body (the default one) as /v1/completions answers: `choices[].text`."""
    text, finish = _first_text(body)
    return {
        "id": "cmpl-degraded",
        "object": "text_completion",
        "created": int(time.time()),
        "model": "switchboard-degraded",
        **{k: v for k, v in body.items() if k != "choices"},
        "choices": [{"index": 0, "text": text, "logprobs": None, "finish_reason": finish}],
    }


def as_anthropic_message(body: dict[str, Any]) -> dict[str, Any]:
    text, _ = _first_text(body)
    return {
        "id": "msg_degraded",
        "type": "message",
        "role": "assistant",
        "model": "switchboard-degraded",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 0, "output_tokens": 0},
    }


def as_openai_events(body: dict[str, Any], *, text_completion: bool = False) -> bytes:
    """The body as chat.completion chunks (text_completion chunks for /v1/completions)."""
    text, finish = _first_text(body)
    is_text = text_completion
    base = {
        "id": "cmpl-degraded" if is_text else "chatcmpl-degraded",
        "object": "text_completion" if is_text else "chat.completion.chunk",
        "created": int(time.time()),
        "model": "switchboard-degraded",
    }
    choices: tuple[dict[str, Any], dict[str, Any]]
    if is_text:
        choices = ({"text": text, "logprobs": None}, {"text": "", "logprobs": None})
    else:
        choices = ({"delta": {"role": "assistant", "content": text}}, {"delta": {}})
    first = {**base, "choices": [{"index": 0, **choices[0], "finish_reason": None}]}
    last = {**base, "choices": [{"index": 0, **choices[1], "finish_reason": finish}]}
    return (
        b"".join(b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in (first, last)) + b"data: [DONE]\n\n"
    )


def as_anthropic_events(message: dict[str, Any]) -> bytes:
    text = "".join(block.get("text", "") for block in message.get("content", []) if isinstance(block, dict))
    start = {**message, "content": [], "stop_reason": None}
    events = [
        ("message_start", {"type": "message_start", "message": start}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 0},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(
        b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n" for name, data in events
    )
