"""The request flow every simulated model API shares: resolve → record → authorize → fault → respond.

Where it sits: `openai_api.py` and `anthropic_api.py` only build bodies and SSE events; they hand a
`respond` function to `run_call`, which does the rest in one place: picks the profile (pinned port, URL
deployment or body `model`), logs the request, checks the key, counts in-flight work and outcomes, and
applies the profile's fault. Pacing (`ttft_ms`, `tokens_per_second`) and connection faults live here too.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from switchboard_proxy.sim.errors import Dialect, SimError, error_body, error_event, error_response
from switchboard_proxy.sim.profiles import Profile
from switchboard_proxy.sim.state import DEFAULT_MODEL, ModelRuntime, SimState, make_log_entry

SIM_STATE = web.AppKey("sim_state", SimState)
# Set when the server shuts down, so hung requests end instead of holding the shutdown.
STOPPING = web.AppKey("stopping", asyncio.Event)
# Name of the model every request on this app's port is served by; "" means "the body decides".
PINNED_MODEL = web.AppKey("pinned_model", str)
# The x-ratelimit-* headers of an accepted request (models with requests_per_minute).
RATE_HEADERS = web.RequestKey("rate_headers", dict)

SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
# How often a hung request checks for a client that went away, when aiohttp does not cancel it.
DISCONNECT_POLL_S = 0.2


@dataclass
class Call:
    """One model API request after its profile was chosen: what a responder needs."""

    request: web.Request
    dialect: Dialect
    name: str
    profile: Profile
    served_model: str
    body: dict[str, Any]
    # The fault this request gets ("none" when healthy); `stream_sse` carries out "midstream-fail".
    fault: str = "none"
    outcome: str = "ok"


Responder = Callable[[Call], Awaitable[web.StreamResponse]]


async def run_call(
    request: web.Request, *, dialect: Dialect, respond: Responder, path_model: str | None = None
) -> web.StreamResponse:
    """Serve one model API request; `path_model` is an Azure deployment name taken from the URL."""
    state = request.app[SIM_STATE]
    try:
        call = await _admit(request, dialect=dialect, path_model=path_model)
    except SimError as error:
        return error_response(error, dialect=dialect)
    runtime = state.begin(call.name)
    profile = call.profile
    try:
        if profile.api_key and not is_authorized(profile.api_key, headers=request.headers):
            raise SimError("unauthorized", "Incorrect API key provided.")
        if profile.requests_per_minute:
            _check_rate(request, runtime, per_minute=profile.requests_per_minute)
        if state.draw_fault(call.name):
            call.fault = call.outcome = profile.fault
            return await _apply_fault(call, respond=respond)
        await runtime.generate_slot(profile.capacity)
        try:
            return await respond(call)
        finally:
            runtime.end_generation(profile.capacity)
    except SimError as error:
        call.outcome = error.kind
        return error_response(error, dialect=dialect)
    except asyncio.CancelledError:
        # A faulted request keeps its fault as the outcome: stats count faults, hangs included.
        if call.fault == "none":
            call.outcome = "client-disconnected"
        raise
    finally:
        runtime.inflight -= 1
        runtime.outcomes[call.outcome] += 1


def _check_rate(request: web.Request, runtime: ModelRuntime, *, per_minute: int) -> None:
    """A sliding-minute request limit like a provider's: 429 beyond it, x-ratelimit-* headers always."""
    accepted, remaining, reset = runtime.admit_rate(time.monotonic(), per_minute=per_minute)
    headers = {
        "x-ratelimit-limit-requests": str(per_minute),
        "x-ratelimit-remaining-requests": str(remaining),
        "x-ratelimit-reset-requests": f"{reset:.3f}s",
    }
    if not accepted:
        raise SimError(
            "rate-limited",
            f"Rate limit reached: {per_minute} requests per minute.",
            retry_after_s=max(1, math.ceil(reset)),
            headers=headers,
        )
    request[RATE_HEADERS] = headers


async def add_rate_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: an accepted answer carries the rate-limit headers too."""
    headers = request.get(RATE_HEADERS)
    if headers:
        response.headers.update(headers)


async def _admit(request: web.Request, *, dialect: Dialect, path_model: str | None) -> Call:
    """Parse, pick the profile and log the request; raise SimError for bad JSON or an unknown model."""
    state = request.app[SIM_STATE]
    body = await read_json_object(request)
    requested = path_model if path_model is not None else str(body.get("model") or "")
    pinned = request.app[PINNED_MODEL]
    name = pinned or state.resolve(requested)
    if name is None or name not in state.profiles:
        state.unmatched += 1
        raise SimError(
            "not-found", f"The model `{requested}` does not exist or you do not have access to it."
        )
    profile = state.profiles[name]
    state.record_request(
        make_log_entry(
            (request.method, request.path), model=requested, profile=name, headers=request.headers, body=body
        )
    )
    return Call(
        request=request,
        dialect=dialect,
        name=name,
        profile=profile,
        served_model=served_model_name(profile, name=name, requested=requested, pinned=pinned),
        body=body,
    )


def served_model_name(profile: Profile, *, name: str, requested: str, pinned: str) -> str:
    """The response's `model`: the profile's served_model, else its name; `default` echoes the ask."""
    if profile.served_model:
        return profile.served_model
    if name == DEFAULT_MODEL and not pinned and requested:
        return requested
    return name


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object; raise SimError("invalid") otherwise."""
    raw = await request.read()
    try:
        body = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as exc:
        raise SimError("invalid", f"Request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise SimError("invalid", "Request body must be a JSON object.")
    return body


def is_authorized(api_key: str, *, headers: Mapping[str, str]) -> bool:
    """Whether any of the three usual key headers carries `api_key`."""
    bearer = headers.get("Authorization", "")
    candidates = (
        bearer[7:] if bearer.lower().startswith("bearer ") else "",
        headers.get("x-api-key", ""),
        headers.get("api-key", ""),
    )
    return any(hmac.compare_digest(candidate.encode(), api_key.encode()) for candidate in candidates)


async def _apply_fault(call: Call, *, respond: Responder) -> web.StreamResponse:
    fault, profile = call.fault, call.profile
    is_stream = bool(call.body.get("stream"))
    if fault in ("rate-limited", "overloaded"):
        raise SimError(
            fault, f"Simulated {fault} for model {call.name}.", retry_after_s=profile.retry_after_s
        )
    if fault in ("error-500", "error-503"):
        raise SimError(fault, f"Simulated {fault} for model {call.name}.")
    if fault == "context-length":
        raise SimError("context-length", context_length_message(call, prompt_tokens=None))
    if fault == "hang":
        await wait_for_disconnect(call.request)
        return web.Response(status=499)
    if fault == "first-event-error" or (
        fault == "fail-after-created" and call.dialect is not Dialect.RESPONSES
    ):
        return await send_first_event_error(call, is_stream=is_stream)
    if (fault == "midstream-fail" and is_stream) or fault == "fail-after-created":
        return await respond(call)  # the responder fails its own answer at the right moment
    # "reset", and "midstream-fail" without a stream: there is no middle to fail in.
    return reset_connection(call.request)


def reset_connection(request: web.Request) -> web.Response:
    """Close the TCP connection abruptly (RST), without a response."""
    if request.transport is not None:
        request.transport.abort()
    # aiohttp discards this response: the transport is gone.
    return web.Response(status=499)


async def wait_for_disconnect(request: web.Request) -> None:
    """Wait until the client goes away or the server stops.

    main.py turns on aiohttp's handler cancellation, which cancels this at once on disconnect; the
    polling covers apps served without it (e.g. a test's `aiohttp_server`).
    """
    stopping = request.app[STOPPING]
    while request.transport is not None and not request.transport.is_closing() and not stopping.is_set():
        await asyncio.sleep(DISCONNECT_POLL_S)


async def send_first_event_error(call: Call, *, is_stream: bool) -> web.StreamResponse:
    """HTTP 200 whose first (and only) event is an error; without a stream, a 200 JSON error body."""
    error = SimError(
        "overloaded" if call.dialect is Dialect.ANTHROPIC else "error-503", "Simulated error event."
    )
    await sleep_ms(call.profile.ttft_ms)
    if not is_stream:
        return json_response(error_body(error, dialect=call.dialect))
    response = web.StreamResponse(headers=SSE_HEADERS)
    await response.prepare(call.request)
    await response.write(error_event(error, dialect=call.dialect))
    await response.write_eof()
    return response


def context_length_message(call: Call, *, prompt_tokens: int | None) -> str:
    window = call.profile.context_window
    if call.dialect is Dialect.ANTHROPIC:
        return f"prompt is too long: {prompt_tokens or window + 1} tokens > {window} maximum"
    return (
        f"This model's maximum context length is {window} tokens. Please reduce the length of the messages."
    )


def check_context(call: Call, *, prompt_tokens: int, max_tokens: int | None) -> None:
    """Raise the context-length error when the prompt estimate plus max_tokens exceeds the window."""
    if prompt_tokens + (max_tokens or 0) > call.profile.context_window:
        raise SimError("context-length", context_length_message(call, prompt_tokens=prompt_tokens))


def json_response(body: dict[str, Any]) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def sleep_ms(delay_ms: float) -> None:
    if delay_ms > 0:
        await asyncio.sleep(delay_ms / 1000)


def generation_ms(profile: Profile, *, tokens: int) -> float:
    """Time a non-streamed answer takes: time to first token plus the pace of the remaining tokens."""
    pace_ms = 1000 * (tokens - 1) / profile.tokens_per_second if profile.tokens_per_second and tokens else 0
    return profile.ttft_ms + pace_ms


async def stream_sse(call: Call, *, head: bytes, pieces: list[bytes], tail: bytes) -> web.StreamResponse:
    """Stream `head` + `pieces` (one per token) + `tail`, paced by the profile; fail midway if asked.

    Headers go out at once (like vLLM); `ttft_ms` delays the first token. At high token rates several
    due pieces go out in one write, so the pacing costs few wake-ups.
    """
    response = web.StreamResponse(headers=SSE_HEADERS)
    await response.prepare(call.request)
    profile = call.profile
    fail_at = profile.fail_after_chunks if call.fault == "midstream-fail" else None
    try:
        await sleep_ms(profile.ttft_ms)
        await _write_paced(response, pieces=pieces, head=head, tps=profile.tokens_per_second, stop_at=fail_at)
        if fail_at is not None:
            reset_connection(call.request)
            return response
        await response.write(tail)
        await response.write_eof()
    except ConnectionResetError:
        if call.fault == "none":
            call.outcome = "client-disconnected"
    return response


async def _write_paced(
    response: web.StreamResponse, *, pieces: list[bytes], head: bytes, tps: float, stop_at: int | None
) -> None:
    loop = asyncio.get_running_loop()
    total = len(pieces) if stop_at is None else min(stop_at, len(pieces))
    start = loop.time()
    sent = 0
    pending = head
    while True:
        elapsed = loop.time() - start
        due = total if tps <= 0 else min(total, 1 + int(elapsed * tps))
        await response.write(pending + b"".join(pieces[sent:due]))
        pending, sent = b"", due
        if sent >= total:
            return
        await asyncio.sleep(max(start + sent / tps - loop.time(), 0))
