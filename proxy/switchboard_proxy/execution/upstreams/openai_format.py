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

PATHS = {
    "chat": "/chat/completions",
    "completions": "/completions",
    "embeddings": "/embeddings",
    "responses": "/responses",
}
# A Responses stream always ends with its usage (in response.completed): nothing to ask for.
NO_USAGE_OPTION = frozenset({"embeddings", "responses"})


def rewrite_body(endpoint: EndpointConfig, call: Call) -> tuple[bytes, bool]:
    """The client's body with the endpoint's model, and usage asked for on streams (stripped later)."""
    body = dict(call.body)
    body["model"] = endpoint.model
    add_usage = False
    if call.stream and call.api not in NO_USAGE_OPTION:
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


def responses_usage_of(document: Any) -> Usage:
    """Usage of a Response (a JSON answer, or the Response inside a stream's terminal event)."""
    usage = document.get("usage") if isinstance(document, dict) else None
    if not isinstance(usage, dict):
        return Usage()
    details = usage.get("input_tokens_details")
    cached = as_int(details.get("cached_tokens")) if isinstance(details, dict) else 0
    return Usage(as_int(usage.get("input_tokens")), as_int(usage.get("output_tokens")), cached)


def responses_finish_of(response: dict[str, Any]) -> str:
    """A Response's end in chat's finish-reason words: stop, length, content_filter, or its status."""
    if response.get("status") == "incomplete":
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else ""
        return "length" if reason == "max_output_tokens" else str(reason or "incomplete")
    if any(
        isinstance(item, dict) and item.get("type") == "function_call"
        for item in response.get("output") or ()
    ):
        return "tool_calls"
    return "stop" if response.get("status") == "completed" else str(response.get("status") or "")
