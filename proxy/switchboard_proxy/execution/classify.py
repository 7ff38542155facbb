"""`classify()`: the one place that maps an upstream failure to a Failure: a trigger, or the client's mistake.

Triggers are the words of FallbackPolicy.triggers: connect-error, timeout, server-error, rate-limited,
overloaded, context-length. `client-error` means the upstream refused the request itself (a 400 other
than context length, a 422): it is returned to the caller unchanged and never fails over or counts
against the endpoint. 401/403/404 from an upstream mean the endpoint is misconfigured (a wrong key or
model id), which is the endpoint's fault, so they count as server errors.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Any

import aiohttp


class Failure(StrEnum):
    """How an attempt failed. Every member but CLIENT_ERROR is a trigger a policy may fail over on
    (the values are the config's words, so `failure in policy.triggers` holds for string triggers)."""

    CONNECT_ERROR = "connect-error"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server-error"
    RATE_LIMITED = "rate-limited"
    OVERLOADED = "overloaded"
    CONTEXT_LENGTH = "context-length"
    CLIENT_ERROR = "client-error"


# Failures that say nothing bad about the endpoint's health: they never count against its circuit, and
# retrying the same endpoint cannot help.
NOT_ENDPOINT_FAULTS: frozenset[Failure] = frozenset({Failure.CONTEXT_LENGTH, Failure.CLIENT_ERROR})


def is_endpoint_fault(failure: Failure) -> bool:
    """Does this failure count against the endpoint's circuit?"""
    return failure not in NOT_ENDPOINT_FAULTS


# Lower-case phrases of the servers' context-length errors: OpenAI and vLLM ("maximum context length"),
# Anthropic ("prompt is too long"), llama.cpp ("exceeds the available context size",
# exceed_context_size_error), TGI ("`inputs` tokens + `max_new_tokens` must be <= ...").
_CONTEXT_LENGTH_MARKERS = (
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "prompt is too long",
    "too many tokens",
    "context window",
    "context size",
    "exceed_context_size",
    "input is too long",
    "`inputs` tokens + `max_new_tokens`",
)


def classify_status(status: int, body: Any = None) -> Failure | None:
    """An HTTP status (and the decoded error body, if any) -> a failure kind; None for 2xx."""
    if 200 <= status < 300:
        return None
    if status == 429:
        return Failure.RATE_LIMITED
    if status in (503, 529):
        return Failure.OVERLOADED
    if status == 408:
        return Failure.TIMEOUT
    if status >= 500 or status in (401, 403, 404):
        return Failure.SERVER_ERROR
    if is_context_length_error(body):
        return Failure.CONTEXT_LENGTH
    return Failure.CLIENT_ERROR


def classify_exception(exc: BaseException) -> Failure:
    """A transport exception -> connect-error or timeout.

    A connect timeout (connectMs) is a connect-error: the request never reached the upstream, so it is
    as safe to send elsewhere (or again) as a refused connection, even under a policy that leaves
    `timeout` out of `triggers` because a timed-out request may have been processed.
    """
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return Failure.CONNECT_ERROR
    if isinstance(exc, asyncio.TimeoutError | aiohttp.ServerTimeoutError):
        return Failure.TIMEOUT
    return Failure.CONNECT_ERROR


def classify_stream_error(event: Any) -> Failure:
    """The first SSE event of a 200 stream was an error object: what kind of failure is it?"""
    error = event.get("error") if isinstance(event, dict) else None
    kind = str(error.get("type", "")) if isinstance(error, dict) else ""
    code = str(error.get("code", "")) if isinstance(error, dict) else ""
    if "rate_limit" in kind or "rate_limit" in code:
        return Failure.RATE_LIMITED
    if "overloaded" in kind or "overloaded" in code:
        return Failure.OVERLOADED
    if is_context_length_error(event):
        return Failure.CONTEXT_LENGTH
    return Failure.SERVER_ERROR


def is_context_length_error(body: Any) -> bool:
    """Does an error body (OpenAI, Anthropic, vLLM, ...) say the prompt does not fit the window?"""
    if not isinstance(body, dict):
        return False
    error = body.get("error", body)
    if not isinstance(error, dict):
        return isinstance(error, str) and any(m in error.lower() for m in _CONTEXT_LENGTH_MARKERS)
    text = f"{error.get('code', '')} {error.get('type', '')} {error.get('message', '')}".lower()
    return any(marker in text for marker in _CONTEXT_LENGTH_MARKERS)
