"""Anthropic Messages: native pass-through of /v1/messages with x-api-key and anthropic-version."""

from __future__ import annotations

from typing import Any

import orjson

from switchboard_proxy.accounting.usage import Usage
from switchboard_proxy.config import EndpointConfig

from .base import Call, Prepared, as_int, common_headers

DEFAULT_VERSION = "2023-06-01"


def prepare(endpoint: EndpointConfig, call: Call, key: str) -> Prepared:
    body = dict(call.body)
    body["model"] = endpoint.model
    headers = common_headers(call)
    headers["anthropic-version"] = call.forwarded.get("anthropic-version", DEFAULT_VERSION)
    if "anthropic-beta" in call.forwarded:
        headers["anthropic-beta"] = call.forwarded["anthropic-beta"]
    if key:
        headers["x-api-key"] = key
    return Prepared(url=endpoint.url + "/messages", headers=headers, payload=orjson.dumps(body))


def usage_of(document: Any) -> Usage:
    """Usage of a message, or of a stream's message_start / message_delta event."""
    if not isinstance(document, dict):
        return Usage()
    usage = document.get("usage")
    if not isinstance(usage, dict) and isinstance(document.get("message"), dict):
        usage = document["message"].get("usage")
    if not isinstance(usage, dict):
        return Usage()
    # Anthropic's input_tokens leaves out cached input (read from or written to the cache), unlike OpenAI's
    # prompt_tokens; Usage counts every prompt token, with the cache reads among them as `cached`.
    cache_read = as_int(usage.get("cache_read_input_tokens"))
    cache_write = as_int(usage.get("cache_creation_input_tokens"))
    prompt = as_int(usage.get("input_tokens")) + cache_read + cache_write
    return Usage(prompt, as_int(usage.get("output_tokens")), cache_read, cache_write)
