"""The OpenAI wire format that OpenAI-compatible servers and Azure OpenAI share: paths, body, usage.

Only the addressing and the key header differ between the two (openai.py and azure.py), so both build
on this module and stay independent of each other.
"""

from __future__ import annotations

from typing import Any

import orjson

from switchboard_proxy.accounting.usage import Usage
from switchboard_proxy.config import EndpointConfig

from .base import Call, as_int

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


def usage_of(document: Any) -> Usage:
    """Usage of a chat/completions/embeddings response or of a stream's usage chunk."""
    usage = document.get("usage") if isinstance(document, dict) else None
    if not isinstance(usage, dict):
        return Usage()
    details = usage.get("prompt_tokens_details")
    cached = as_int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    return Usage(as_int(usage.get("prompt_tokens")), as_int(usage.get("completion_tokens")), cached)
