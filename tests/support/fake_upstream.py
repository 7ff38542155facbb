"""The one fake upstream of the tests: an OpenAI-compatible server whose behaviour is keyed by model name.

Like tensorzero's dummy provider: the sidecar sends the endpoint's `model` upstream, so naming an
endpoint's model `hang` or `error-500` is all a test needs to say how that endpoint behaves. It answers
every POST path (chat, completions, embeddings, Azure deployments) and records what it received (path
with query string, lower-cased headers, body), how many requests each model got, which are in flight
and which clients went away. switchboard-sim plays real models for the integration tests; this fake
covers the misbehaviours the sim does not have.

Run it in the test's own event loop (`app()` with pytest-aiohttp's `aiohttp_server`, for unit tests on
fake time) or in a background thread (`start_in_thread()`, for tests that drive a sidecar process).

Models:
- `hang`: never answers (until the client goes away); `keepalive-hang`: a stream that sends only an SSE
  comment, then hangs;
- `slow`: answers after SLOW_SECONDS;
- `error-500`, `rate-limited-30` (429 with Retry-After: 30), `bad-request` (400), `context` (400
  context_length_exceeded), `flaky` (500 on every other request);
- `first-event-error` (a 200 stream whose first event is an error), `json-error-200` (a 200 whose body
  is an error document), `created-201` (a 2xx that is no answer);
- `no-done`: a stream that ends cleanly without `data: [DONE]`;
- `echo-key`: a 400 whose message quotes the request's key header, as some servers do;
- `no-usage`: a JSON answer without usage (streams of this fake never carry usage anyway);
- anything else: a normal answer (JSON, or a stream of two content chunks, a finish chunk and [DONE]).

On `/responses` (the Responses API) streams are typed events: `responses-error` sends response.created
and response.in_progress, then an `error` event; `responses-failed` the same with response.failed;
`responses-fails-after-output` a text delta, then response.failed; anything else a whole stream.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

SLOW_SECONDS = 1.0


@dataclass
class Received:
    """One request as the fake saw it."""

    path: str
    model: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeUpstream:
    """What the fake saw; `url` is its OpenAI base URL (ending in /v1) once it serves."""

    url: str = ""
    requests: Counter[str] = field(default_factory=Counter)
    inflight: Counter[str] = field(default_factory=Counter)
    disconnected: Counter[str] = field(default_factory=Counter)
    received: list[Received] = field(default_factory=list)
    _thread: ThreadedServer | None = None

    @property
    def base_url(self) -> str:
        return self.url.removesuffix("/v1")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        return app

    async def wait_idle(self, model: str, *, timeout: float = 1.0) -> None:
        async with asyncio.timeout(timeout):
            while self.inflight[model]:
                await asyncio.sleep(0.01)

    @classmethod
    def start_in_thread(cls) -> FakeUpstream:
        fake = cls()
        fake._thread = ThreadedServer.start(fake.app())
        fake.url = f"http://127.0.0.1:{fake._thread.port}/v1"
        return fake

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        model = str(body.get("model"))
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.received.append(Received(request.path_qs, model, headers, body))
        self.requests[model] += 1
        self.inflight[model] += 1
        try:
            return await self._respond(request, model, headers, body.get("stream") is True)
        except asyncio.CancelledError:
            self.disconnected[model] += 1
            raise
        finally:
            self.inflight[model] -= 1

    async def _respond(
        self, request: web.Request, model: str, headers: dict[str, str], stream: bool
    ) -> web.StreamResponse:
        if model in ("hang", "keepalive-hang"):
            if model == "keepalive-hang" and stream:
                await _sse(request, [b": keep-alive\n\n"], end=False)
            await _until_disconnected(request)
            self.disconnected[model] += 1
            return web.Response(status=499)
        if model == "slow":
            await asyncio.sleep(SLOW_SECONDS)
        failure = _failure(model, headers, self.requests[model])
        if failure is not None:
            return failure
        if request.path.endswith("/responses"):
            return await _responses(request, model, stream)
        if model == "first-event-error" and stream:
            return await _sse(request, [b'data: {"error": {"message": "busy", "type": "server_error"}}\n\n'])
        if model == "json-error-200":
            return web.Response(
                body=b'{"error": {"message": "busy", "type": "server_error"}}',
                content_type="application/json",
            )
        status = 201 if model == "created-201" else 200
        if stream:
            return await _sse(request, _chunks(model, done=model != "no-done"), status=status)
        completion = _completion(model)
        if model == "no-usage":
            del completion["usage"]
        return web.Response(status=status, body=orjson.dumps(completion), content_type="application/json")


def _response(model: str, status: str, output: list[dict[str, Any]]) -> dict[str, Any]:
    usage = {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4} if status == "completed" else None
    return {
        "id": "resp_fake",
        "object": "response",
        "created_at": 0,
        "status": status,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": {"code": "server_error", "message": "busy"} if status == "failed" else None,
        "usage": usage,
    }


def _event(kind: str, number: int, **fields: Any) -> bytes:
    data = {"type": kind, "sequence_number": number, **fields}
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


async def _responses(request: web.Request, model: str, stream: bool) -> web.StreamResponse:
    item = {"type": "message", "id": "msg_fake", "status": "completed", "role": "assistant"}
    item["content"] = [{"type": "output_text", "text": "hi", "annotations": []}]
    if not stream:
        return web.Response(
            body=orjson.dumps(_response(model, "completed", [item])), content_type="application/json"
        )
    head = [
        _event(k, n, response=_response(model, "in_progress", []))
        for n, k in enumerate(("response.created", "response.in_progress"))
    ]
    if model == "responses-error":
        return await _sse(
            request, [*head, _event("error", 2, code="server_error", message="busy", param=None)]
        )
    if model == "responses-failed":
        return await _sse(
            request, [*head, _event("response.failed", 2, response=_response(model, "failed", []))]
        )
    delta = _event(
        "response.output_text.delta", 2, item_id="msg_fake", output_index=0, content_index=0, delta="hi"
    )
    if model == "responses-fails-after-output":
        return await _sse(
            request, [*head, delta, _event("response.failed", 3, response=_response(model, "failed", []))]
        )
    return await _sse(
        request,
        [*head, delta, _event("response.completed", 3, response=_response(model, "completed", [item]))],
    )


def _failure(model: str, headers: dict[str, str], count: int) -> web.Response | None:
    if model == "error-500" or (model == "flaky" and count % 2):
        return _error(500, "boom")
    if model == "rate-limited-30":
        return _error(429, "slow down", code="rate_limit_exceeded", retry_after=30)
    if model == "bad-request":
        return _error(400, "max_tokens: Field required")
    if model == "context":
        return _error(400, "maximum context length exceeded", code="context_length_exceeded")
    if model == "echo-key":
        quoted = headers.get("authorization") or headers.get("api-key") or headers.get("x-api-key")
        return _error(400, f"invalid request: header {quoted!r} is not accepted here")
    return None


def _completion(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }


def _chunk(model: str, content: str | None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    payload = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def _chunks(model: str, *, done: bool) -> list[bytes]:
    chunks = [_chunk(model, "Hello"), _chunk(model, " there")]
    return [*chunks, _chunk(model, None, "stop"), b"data: [DONE]\n\n"] if done else chunks


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


async def _sse(
    request: web.Request, events: list[bytes], *, status: int = 200, end: bool = True
) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(b"".join(events))
    if end:
        await response.write_eof()
    return response


@dataclass
class ThreadedServer:
    """An aiohttp app on a loopback port, served by its own event loop in a daemon thread."""

    port: int
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    runner: web.AppRunner

    @classmethod
    def start(cls, app: web.Application) -> ThreadedServer:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-upstream", daemon=True)
        thread.start()
        runner = web.AppRunner(app)

        async def serve() -> int:
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            return int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]

        port = asyncio.run_coroutine_threadsafe(serve(), loop).result(timeout=10)
        return cls(port, loop, thread, runner)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@contextmanager
def running_fake_upstream() -> Iterator[FakeUpstream]:
    """A fake upstream in a background thread for the duration of the block."""
    fake = FakeUpstream.start_in_thread()
    try:
        yield fake
    finally:
        fake.stop()
