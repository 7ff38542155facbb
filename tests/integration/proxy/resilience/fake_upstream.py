"""A tiny OpenAI-compatible upstream in a background thread, for the few misbehaviours the sim lacks.

Behaviour is keyed by the request's model name (like tensorzero's dummy provider):
- `no-done`: a 200 stream with two content chunks that then ends cleanly, without `data: [DONE]`;
- anything else: a normal two-chunk stream ending with `[DONE]`.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

import orjson
from aiohttp import web

from support.processes import free_port


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


async def _chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    model = str(body.get("model"))
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(_chunk(model, "Hello") + _chunk(model, " there"))
    if model != "no-done":
        await response.write(_chunk(model, None, "stop") + b"data: [DONE]\n\n")
    await response.write_eof()
    return response


@dataclass
class FakeUpstream:
    """A running fake upstream; `url` is its OpenAI base URL (ending in /v1)."""

    url: str
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    runner: web.AppRunner

    @classmethod
    def start(cls) -> FakeUpstream:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-upstream", daemon=True)
        thread.start()
        app = web.Application()
        app.router.add_post("/v1/chat/completions", _chat)
        runner = web.AppRunner(app)
        port = free_port()

        async def serve() -> None:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()

        asyncio.run_coroutine_threadsafe(serve(), loop).result(timeout=10)
        return cls(f"http://127.0.0.1:{port}/v1", loop, thread, runner)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
