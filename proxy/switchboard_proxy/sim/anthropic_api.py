"""Anthropic Messages endpoint of `switchboard-sim`: `POST /v1/messages`, JSON and SSE.

Where it sits: `app.py` routes `/v1/messages` here; `serving.run_call` has already chosen the profile and
handled keys and faults (rendered in Anthropic's error shape). The stream follows the event sequence the
anthropic SDK accumulates: message_start, content_block_start, ping, content_block_delta (text_delta)...,
content_block_stop, message_delta (stop_reason, usage.output_tokens), message_stop — every message with
an `event:` line, which the SDK needs to dispatch it.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from aiohttp import web

from switchboard_proxy.sim.errors import Dialect, SimError
from switchboard_proxy.sim.serving import (
    Call,
    check_context,
    generation_ms,
    json_response,
    run_call,
    sleep_ms,
    stream_sse,
)
from switchboard_proxy.sim.text import estimate_prompt_tokens, output_pieces, plan_output


async def messages(request: web.Request) -> web.StreamResponse:
    """POST /v1/messages."""
    return await run_call(request, dialect=Dialect.ANTHROPIC, respond=_respond_messages)


def event(name: str, *, data: dict[str, Any]) -> bytes:
    """One SSE message with the `event:` line the anthropic SDK dispatches on."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def validate_request(body: dict[str, Any]) -> int:
    """Check the fields the real API requires; return `max_tokens`."""
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise SimError("invalid", "max_tokens: Field required (a positive integer)")
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        raise SimError("invalid", "messages: Field required (a non-empty array)")
    return max_tokens


async def _respond_messages(call: Call) -> web.StreamResponse:
    max_tokens = validate_request(call.body)
    prompt_tokens = estimate_prompt_tokens(call.body.get("system"), call.body["messages"])
    check_context(call, prompt_tokens=prompt_tokens, max_tokens=max_tokens)
    count, truncated = plan_output(output_tokens=call.profile.output_tokens, max_tokens=max_tokens)
    pieces = output_pieces(count, seed=call.profile.seed)
    stop_reason = "max_tokens" if truncated else "end_turn"
    message: dict[str, Any] = {
        "id": "msg_" + uuid.uuid4().hex[:24],
        "type": "message",
        "role": "assistant",
        "model": call.served_model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": prompt_tokens, "output_tokens": 0},
    }
    if call.body.get("stream"):
        return await stream_sse(
            call,
            head=_stream_head(message),
            pieces=[_text_delta(piece) for piece in pieces],
            tail=_stream_tail(stop_reason=stop_reason, output_tokens=count),
        )
    await sleep_ms(generation_ms(call.profile, tokens=count))
    message["content"] = [{"type": "text", "text": "".join(pieces)}]
    message["stop_reason"] = stop_reason
    message["usage"] = {"input_tokens": prompt_tokens, "output_tokens": count}
    return json_response(message)


def _stream_head(message: dict[str, Any]) -> bytes:
    return (
        event("message_start", data={"type": "message_start", "message": message})
        + event(
            "content_block_start",
            data={"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        )
        + event("ping", data={"type": "ping"})
    )


def _text_delta(text: str) -> bytes:
    return event(
        "content_block_delta",
        data={"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
    )


def _stream_tail(*, stop_reason: str, output_tokens: int) -> bytes:
    return (
        event("content_block_stop", data={"type": "content_block_stop", "index": 0})
        + event(
            "message_delta",
            data={
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                "usage": {"output_tokens": output_tokens},
            },
        )
        + event("message_stop", data={"type": "message_stop"})
    )
