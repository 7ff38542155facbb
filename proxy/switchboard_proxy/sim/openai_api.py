"""OpenAI-compatible endpoints of `switchboard-sim`, plus their Azure OpenAI deployment paths.

Where it sits: `app.py` routes `/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`, `/v1/models`
and `/openai/deployments/{deployment}/...` here. Each handler is a responder for `serving.run_call`,
which has already chosen the profile and handled keys and faults; this module only shapes bodies and
`chat.completion.chunk` / `text_completion` SSE chunks exactly as OpenAI sends them.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
from aiohttp import web

from switchboard_proxy.sim.errors import Dialect, SimError
from switchboard_proxy.sim.serving import (
    PINNED_MODEL,
    SIM_STATE,
    Call,
    check_context,
    generation_ms,
    json_response,
    run_call,
    sleep_ms,
    stream_sse,
)
from switchboard_proxy.sim.text import (
    embedding_vector,
    encode_base64_floats,
    estimate_prompt_tokens,
    estimate_tokens,
    output_pieces,
    plan_output,
)

DONE = b"data: [DONE]\n\n"


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """POST /v1/chat/completions (and the Azure deployment path)."""
    return await run_call(
        request,
        dialect=Dialect.OPENAI,
        respond=_respond_chat,
        path_model=request.match_info.get("deployment"),
    )


async def completions(request: web.Request) -> web.StreamResponse:
    """POST /v1/completions (legacy text completions, still what vLLM serves for FIM/tab completion)."""
    return await run_call(
        request,
        dialect=Dialect.OPENAI,
        respond=_respond_text,
        path_model=request.match_info.get("deployment"),
    )


async def embeddings(request: web.Request) -> web.StreamResponse:
    """POST /v1/embeddings."""
    return await run_call(
        request,
        dialect=Dialect.OPENAI,
        respond=_respond_embeddings,
        path_model=request.match_info.get("deployment"),
    )


async def list_models(request: web.Request) -> web.Response:
    """GET /v1/models: every profile, or only the pinned one on a `--listen` port."""
    pinned = request.app[PINNED_MODEL]
    names = [pinned] if pinned else list(request.app[SIM_STATE].profiles)
    data = [{"id": name, "object": "model", "created": 0, "owned_by": "switchboard-sim"} for name in names]
    return json_response({"object": "list", "data": data})


def requested_max_tokens(body: dict[str, Any]) -> int | None:
    """`max_completion_tokens` (newer) or `max_tokens`; raise SimError when it is not a count."""
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SimError("invalid", f"Invalid '{key}': expected a non-negative integer, got {value!r}.")
        return value
    return None


def is_usage_requested(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


def usage(prompt_tokens: int, *, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


async def _respond_chat(call: Call) -> web.StreamResponse:
    messages = call.body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise SimError("invalid", "'messages' must be a non-empty array.")
    return await _respond_generation(call, prompt_tokens=estimate_prompt_tokens(messages), is_chat=True)


async def _respond_text(call: Call) -> web.StreamResponse:
    prompt = call.body.get("prompt")
    if prompt is None:
        raise SimError("invalid", "'prompt' is required.")
    return await _respond_generation(call, prompt_tokens=estimate_prompt_tokens(prompt), is_chat=False)


async def _respond_generation(call: Call, *, prompt_tokens: int, is_chat: bool) -> web.StreamResponse:
    """Shared by chat and text completions: size the output, then stream it or answer in one JSON."""
    cap = requested_max_tokens(call.body)
    check_context(call, prompt_tokens=prompt_tokens, max_tokens=cap)
    count, truncated = plan_output(output_tokens=call.profile.output_tokens, max_tokens=cap)
    pieces = output_pieces(count, seed=call.profile.seed)
    finish = "length" if truncated else "stop"
    shape = _ChunkShape(call, is_chat=is_chat)
    if call.body.get("stream"):
        include_usage = is_usage_requested(call.body)
        tail = shape.chunk(None, finish=finish, include_usage=include_usage)
        if include_usage:
            tail += sse({**shape.base, "choices": [], "usage": usage(prompt_tokens, completion_tokens=count)})
        return await stream_sse(
            call,
            head=shape.chunk("", finish=None, include_usage=include_usage, role=True) if is_chat else b"",
            pieces=[shape.chunk(piece, finish=None, include_usage=include_usage) for piece in pieces],
            tail=tail + DONE,
        )
    await sleep_ms(generation_ms(call.profile, tokens=count))
    text = "".join(pieces)
    if is_chat:
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": text, "refusal": None},
            "logprobs": None,
            "finish_reason": finish,
        }
    else:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish}
    return json_response(
        {**shape.full_base, "choices": [choice], "usage": usage(prompt_tokens, completion_tokens=count)}
    )


class _ChunkShape:
    """The fixed parts of one response's objects, so each chunk only adds its delta."""

    def __init__(self, call: Call, *, is_chat: bool) -> None:
        self.is_chat = is_chat
        prefix = "chatcmpl-" if is_chat else "cmpl-"
        common = {
            "id": prefix + uuid.uuid4().hex[:24],
            "created": int(time.time()),
            "model": call.served_model,
        }
        self.base: dict[str, Any] = {
            **common,
            "object": "chat.completion.chunk" if is_chat else "text_completion",
            "system_fingerprint": None,
        }
        self.full_base: dict[str, Any] = {
            **common,
            "object": "chat.completion" if is_chat else "text_completion",
            "system_fingerprint": None,
        }

    def chunk(
        self, text: str | None, *, finish: str | None, include_usage: bool, role: bool = False
    ) -> bytes:
        if self.is_chat:
            delta: dict[str, Any] = {} if text is None else {"content": text}
            if role:
                delta = {"role": "assistant", "content": "", "refusal": None}
            choice: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        else:
            choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": finish}
        payload = {**self.base, "choices": [choice]}
        # OpenAI marks every chunk with "usage": null when the client asked for a usage chunk.
        if include_usage:
            payload["usage"] = None
        return sse(payload)


def embedding_inputs(value: Any) -> list[tuple[str, int]]:
    """Each input of an embeddings request as (text used for the vector, prompt tokens)."""
    if isinstance(value, str):
        return [(value, estimate_tokens(value))]
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        return [(" ".join(map(str, value)), len(value))]
    if isinstance(value, list) and value:
        return [item for v in value for item in embedding_inputs(v)]
    raise SimError("invalid", "'input' must be a string, an array of strings or an array of token arrays.")


async def _respond_embeddings(call: Call) -> web.StreamResponse:
    inputs = embedding_inputs(call.body.get("input"))
    dims = call.body.get("dimensions") or call.profile.embedding_dims
    if isinstance(dims, bool) or not isinstance(dims, int) or dims < 1:
        raise SimError("invalid", f"Invalid 'dimensions': expected a positive integer, got {dims!r}.")
    prompt_tokens = sum(tokens for _, tokens in inputs)
    check_context(call, prompt_tokens=max(tokens for _, tokens in inputs), max_tokens=None)
    as_base64 = call.body.get("encoding_format") == "base64"
    data = []
    for index, (text, _) in enumerate(inputs):
        vector = embedding_vector(text, dims=dims, seed=call.profile.seed)
        encoded: Any = encode_base64_floats(vector) if as_base64 else vector
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    await sleep_ms(call.profile.ttft_ms)
    return json_response(
        {
            "object": "list",
            "data": data,
            "model": call.served_model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }
    )
