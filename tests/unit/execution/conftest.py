"""A fake OpenAI-compatible upstream on a real loopback port, whose behaviour is keyed by model name.

Like tensorzero's dummy provider: the executor sends the endpoint's `model` upstream, so naming an
endpoint (and its model) `hang` or `error-500` is all a test needs to say how that endpoint behaves.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field

import orjson
import pytest
from aiohttp import web

SLOW_SECONDS = 1.0


@dataclass
class FakeUpstream:
    """What the fake saw: requests per model, requests in flight, and clients that went away."""

    url: str = ""
    requests: Counter[str] = field(default_factory=Counter)
    inflight: Counter[str] = field(default_factory=Counter)
    disconnected: Counter[str] = field(default_factory=Counter)

    async def wait_idle(self, model: str, *, timeout: float = 1.0) -> None:
        async with asyncio.timeout(timeout):
            while self.inflight[model]:
                await asyncio.sleep(0.01)


def _answer(model: str, *, stream: bool) -> tuple[bytes, str]:
    if not stream:
        body = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": model,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }
        return orjson.dumps(body), "application/json"
    chunk = {
        "id": "c",
        "object": "chat.completion.chunk",
        "model": model,
        "choices": [{"index": 0, "delta": {"content": "hi"}, "finish_reason": "stop"}],
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\ndata: [DONE]\n\n", "text/event-stream"


def _error(
    status: int, message: str, *, code: str | None = None, retry_after: int | None = None
) -> web.Response:
    body = {
        "error": {
            "message": message,
            "type": "invalid_request_error" if status == 400 else "server_error",
            "code": code,
            "param": None,
        }
    }
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=headers
    )


async def _until_disconnected(request: web.Request) -> None:
    while request.transport is not None and not request.transport.is_closing():
        await asyncio.sleep(0.01)


async def _sse(request: web.Request, first: bytes) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(first)
    return response


async def _respond(request: web.Request, model: str, fake: FakeUpstream, stream: bool) -> web.StreamResponse:
    if model in ("hang", "keepalive-hang"):
        if model == "keepalive-hang" and stream:
            await _sse(request, b": keep-alive\n\n")
        await _until_disconnected(request)
        fake.disconnected[model] += 1
        return web.Response(status=499)
    if model == "slow":
        await asyncio.sleep(SLOW_SECONDS)
    errors = {
        "error-500": lambda: _error(500, "boom"),
        "rate-limited-30": lambda: _error(429, "slow down", code="rate_limit_exceeded", retry_after=30),
        "bad-request": lambda: _error(400, "max_tokens: Field required"),
        "context": lambda: _error(400, "maximum context length exceeded", code="context_length_exceeded"),
        "flaky": lambda: _error(500, "odd request") if fake.requests[model] % 2 else None,
    }
    failure = errors.get(model, lambda: None)()
    if failure is not None:
        return failure
    if model == "first-event-error" and stream:
        return await _sse(request, b'data: {"error": {"message": "busy", "type": "server_error"}}\n\n')
    if model == "json-error-200":
        return web.Response(
            body=b'{"error": {"message": "busy", "type": "server_error"}}', content_type="application/json"
        )
    body, content_type = _answer(model, stream=stream)
    return web.Response(status=201 if model == "created-201" else 200, body=body, content_type=content_type)


@pytest.fixture
async def upstream(aiohttp_server) -> FakeUpstream:
    fake = FakeUpstream()

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model = str(body["model"])
        fake.requests[model] += 1
        fake.inflight[model] += 1
        try:
            return await _respond(request, model, fake, body.get("stream") is True)
        except asyncio.CancelledError:
            fake.disconnected[model] += 1
            raise
        finally:
            fake.inflight[model] -= 1

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    server = await aiohttp_server(app)
    fake.url = str(server.make_url("/v1"))
    return fake
