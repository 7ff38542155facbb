"""A bare aiohttp pass-through proxy: the fair baseline for "a Python proxy" in the benchmark.

It does what any aiohttp proxy must do and nothing more: read the request body, POST it upstream over a
pooled keep-alive ClientSession, and copy the answer back (SSE chunk by chunk as it arrives, JSON whole).
Same event loop as the sidecar (uvloop), no logging, no metrics, no routing. What the sidecar adds beyond
this is what Switchboard costs; what this adds beyond talking to the upstream directly is what any
Python proxy costs.

    python bench/passthrough.py --port 9200 --upstream http://127.0.0.1:9100
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator

import aiohttp
import uvloop
from aiohttp import web

PATH = "/v1/chat/completions"
SESSION = web.AppKey("session", aiohttp.ClientSession)
UPSTREAM = web.AppKey("upstream", str)


async def forward(request: web.Request) -> web.StreamResponse:
    body = await request.read()
    url = request.app[UPSTREAM] + PATH
    async with request.app[SESSION].post(url, data=body, headers={"Content-Type": "application/json"}) as up:
        content_type = up.headers.get("Content-Type", "application/json")
        if not content_type.startswith("text/event-stream"):
            return web.Response(
                status=up.status, body=await up.read(), headers={"Content-Type": content_type}
            )
        response = web.StreamResponse(status=up.status, headers={"Content-Type": content_type})
        await response.prepare(request)
        async for chunk in up.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


async def healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def session_ctx(app: web.Application) -> AsyncIterator[None]:
    app[SESSION] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=30))
    yield
    await app[SESSION].close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="base URL of the upstream, e.g. the sim")
    args = parser.parse_args()
    app = web.Application()
    app[UPSTREAM] = args.upstream.rstrip("/")
    app.cleanup_ctx.append(session_ctx)
    app.router.add_post(PATH, forward)
    app.router.add_get("/healthz", healthz)
    loop = uvloop.new_event_loop()
    web.run_app(
        app,
        host="127.0.0.1",
        port=args.port,
        access_log=None,
        print=None,
        loop=loop,
        backlog=2048,
        shutdown_timeout=1,
    )


if __name__ == "__main__":
    main()
