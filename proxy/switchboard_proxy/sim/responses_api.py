"""OpenAI Responses API endpoint of `switchboard-sim`: `POST /v1/responses`, JSON and typed SSE events.

Where it sits: `app.py` routes `/v1/responses` (and Azure's `/openai/responses`) here; `serving.run_call`
has already chosen the profile and handled keys and faults. The stream is the event sequence the openai
SDK accumulates: response.created, response.in_progress, response.output_item.added,
response.content_part.added, response.output_text.delta..., response.output_text.done,
response.content_part.done, response.output_item.done, response.completed (response.incomplete when
max_output_tokens cut it short), each with `event:` and `sequence_number`. Faults of its own:
`fail-after-created` answers response.created and response.in_progress, then response.failed (a failed
Response as JSON); `midstream-fail` resets the connection after `fail_after_chunks` text deltas.
"""

from __future__ import annotations

import time
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


async def responses(request: web.Request) -> web.StreamResponse:
    """POST /v1/responses."""
    return await run_call(request, dialect=Dialect.RESPONSES, respond=_respond)


class _Events:
    """Numbers the events of one stream."""

    def __init__(self) -> None:
        self.sequence = 0

    def __call__(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _max_output_tokens(body: dict[str, Any]) -> int | None:
    value = body.get("max_output_tokens")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SimError("invalid", f"Invalid 'max_output_tokens': expected a positive integer, got {value!r}.")
    return value


def _response(
    call: Call, response_id: str, *, status: str, output: list[dict[str, Any]], usage: Any
) -> dict[str, Any]:
    body = call.body
    return {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()),
        "status": status,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "model": call.served_model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": body.get("previous_response_id"),
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": body.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": usage,
        "metadata": {},
    }


def _usage(prompt_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": prompt_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt_tokens + output_tokens,
    }


def _message(item_id: str, text: str, *, status: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}] if status else []
    return {
        "type": "message",
        "id": item_id,
        "status": status or "in_progress",
        "role": "assistant",
        "content": content,
    }


async def _respond(call: Call) -> web.StreamResponse:
    body = call.body
    if "input" not in body:
        raise SimError("invalid", "Missing required parameter: 'input'.")
    prompt_tokens = estimate_prompt_tokens(body.get("instructions"), body["input"])
    cap = _max_output_tokens(body)
    check_context(call, prompt_tokens=prompt_tokens, max_tokens=cap)
    count, truncated = plan_output(output_tokens=call.profile.output_tokens, max_tokens=cap)
    pieces = output_pieces(count, seed=call.profile.seed)
    response_id = "resp_" + uuid.uuid4().hex[:24]
    status = "incomplete" if truncated else "completed"
    if call.fault == "fail-after-created" and not body.get("stream"):
        failed = _response(call, response_id, status="failed", output=[], usage=None)
        return json_response({**failed, "error": {"code": "server_error", "message": "Simulated failure."}})
    usage = _usage(prompt_tokens, count)
    if body.get("stream"):
        return await _stream(call, response_id, pieces, status=status, usage=usage)
    await sleep_ms(generation_ms(call.profile, tokens=count))
    item = _message("msg_" + uuid.uuid4().hex[:24], "".join(pieces), status="completed")
    return json_response(_response(call, response_id, status=status, output=[item], usage=usage))


async def _stream(
    call: Call, response_id: str, pieces: list[str], *, status: str, usage: dict[str, Any]
) -> web.StreamResponse:
    events = _Events()
    started = _response(call, response_id, status="in_progress", output=[], usage=None)
    head = events("response.created", response=started) + events("response.in_progress", response=started)
    if call.fault == "fail-after-created":
        failed = {
            **started,
            "status": "failed",
            "error": {"code": "server_error", "message": "Simulated failure."},
        }
        return await stream_sse(call, head=head, pieces=[], tail=events("response.failed", response=failed))
    item_id = "msg_" + uuid.uuid4().hex[:24]
    head += events("response.output_item.added", output_index=0, item=_message(item_id, "", status=""))
    part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
    head += events("response.content_part.added", item_id=item_id, output_index=0, content_index=0, part=part)
    deltas = [
        events(
            "response.output_text.delta",
            item_id=item_id,
            output_index=0,
            content_index=0,
            delta=p,
            logprobs=[],
        )
        for p in pieces
    ]
    text = "".join(pieces)
    done = _message(item_id, text, status="completed")
    tail = events(
        "response.output_text.done", item_id=item_id, output_index=0, content_index=0, text=text, logprobs=[]
    )
    tail += events(
        "response.content_part.done",
        item_id=item_id,
        output_index=0,
        content_index=0,
        part=done["content"][0],
    )
    tail += events("response.output_item.done", output_index=0, item=done)
    final = _response(call, response_id, status=status, output=[done], usage=usage)
    tail += events("response.incomplete" if status == "incomplete" else "response.completed", response=final)
    return await stream_sse(call, head=head, pieces=deltas, tail=tail)
