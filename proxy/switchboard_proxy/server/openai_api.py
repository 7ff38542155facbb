"""OpenAI-compatible model APIs: chat completions, completions, embeddings, the Responses API, the model list.

`POST /v1/responses` is routed like chat: passed through to endpoints with the `responses` capability,
translated to chat completions (or Anthropic Messages) for the others (`translation`).
"""

from __future__ import annotations

import time

import orjson
from aiohttp import web

from .calls import handle_model_call
from .exchange import current_table


async def chat_completions(request: web.Request) -> web.StreamResponse:
    return await handle_model_call(request, "chat")


async def completions(request: web.Request) -> web.StreamResponse:
    return await handle_model_call(request, "completions")


async def embeddings(request: web.Request) -> web.StreamResponse:
    return await handle_model_call(request, "embeddings")


async def responses(request: web.Request) -> web.StreamResponse:
    return await handle_model_call(request, "responses")


async def models(request: web.Request) -> web.Response:
    """Routes are the models a client can ask for (plus their match.models aliases)."""
    config = current_table(request).config
    created = int(time.time())
    data = [
        {"id": name, "object": "model", "created": created, "owned_by": "switchboard"}
        for name in sorted(config.model_routes)
    ]
    return web.Response(body=orjson.dumps({"object": "list", "data": data}), content_type="application/json")
