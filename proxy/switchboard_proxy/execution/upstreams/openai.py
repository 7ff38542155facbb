"""OpenAI-compatible servers (OpenAI, vLLM, llama.cpp, TGI, Ollama): paths, auth, usage."""

from __future__ import annotations

from typing import Any

import orjson

from switchboard_proxy.config import EndpointConfig

from .base import Call, Prepared, Usage, as_int, common_headers

PATHS = {"chat": "/chat/completions", "completions": "/completions", "embeddings": "/embeddings"}


def rewrite_body(endpoint: EndpointConfig, call: Call) -> tuple[bytes, bool]:
    """The client's body with the endpoint's model, and usage asked for on streams (stripped later)."""
    body = dict(call.body)
    body["model"] = endpoint.model
    add_usage = False
    if call.stream and call.api != "embeddings":
        options = body.get("stream_options")
        if not (isinstance(options, dict) and options.get("include_usage") is True):
            body["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
            add_usage = True
    return orjson.dumps(body), add_usage


def prepare(endpoint: EndpointConfig, call: Call, key: str) -> Prepared:
    payload, add_usage = rewrite_body(endpoint, call)
    headers = common_headers(call)
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if call.forwarded:
        headers.update({k: v for k, v in call.forwarded.items() if k.startswith("openai-")})
    return Prepared(url=endpoint.url + PATHS[call.api], headers=headers, payload=payload, add_usage=add_usage)


def usage_of(document: Any) -> Usage:
    """Usage of a chat/completions/embeddings response or of a stream's usage chunk."""
    usage = document.get("usage") if isinstance(document, dict) else None
    if not isinstance(usage, dict):
        return Usage()
    details = usage.get("prompt_tokens_details")
    cached = as_int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    return Usage(as_int(usage.get("prompt_tokens")), as_int(usage.get("completion_tokens")), cached)
