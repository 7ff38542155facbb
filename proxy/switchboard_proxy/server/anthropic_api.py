"""Anthropic Messages API (`POST /v1/messages`), passed through natively to anthropic endpoints.

Callers authenticate to the sidecar as they would to Anthropic (`x-api-key` or `Authorization: Bearer`,
plus `anthropic-version`); the sidecar ignores their key and uses the endpoint's own from its config.
"""

from __future__ import annotations

from aiohttp import web

from .calls import handle_model_call


async def messages(request: web.Request) -> web.StreamResponse:
    return await handle_model_call(request, "messages")
