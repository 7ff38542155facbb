"""`build_app(settings)`: the sidecar's aiohttp application, and `serve()`, which runs it until SIGTERM.

State lives behind `web.AppKey`s; the client session, shadows and watchers live in `cleanup_ctx`, so
they start with the app and stop with it. Middlewares do only cross-cutting work: request ids and error
rendering. Malformed HTTP that never reaches a handler (a huge header) is answered in the same JSON
shape by a thin RequestHandler subclass.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import random
import signal
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import BadStatusLine, InvalidHeader, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_server import Server

from ..accounting.feedback import RecentRequests
from ..accounting.metrics import Metrics
from ..execution.shadowing import Shadows
from ..reloading import ConfigHolder, ConfigWatcher
from ..reloading.kubewatch import watch_configmap
from ..settings import ProxySettings
from . import anthropic_api, openai_api, ops_api
from .access_log import AccessLog
from .admin import start_admin
from .errors import edge_middleware, error_body
from .state import ACCESS_LOG, CONFIG, METRICS, RECENT, REQUEST_IDS, SESSION, SETTINGS, SHADOWS

log = logging.getLogger("switchboard.proxy")
WATCHER = web.AppKey("watcher", ConfigWatcher)


def build_app(settings: ProxySettings) -> web.Application:
    """The application, with its first config loaded (or its refusal recorded)."""
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=[edge_middleware])
    metrics = Metrics()
    holder = ConfigHolder()
    watcher = ConfigWatcher(settings, holder, metrics)
    app[SETTINGS], app[CONFIG], app[WATCHER], app[METRICS] = settings, holder, watcher, metrics
    app[RECENT] = RecentRequests()
    app[REQUEST_IDS] = random.Random(os.urandom(16))
    watcher.load_initial()
    metrics.live.source = lambda: holder.table
    app.cleanup_ctx.append(_client_session)
    app.cleanup_ctx.append(_config_watch)
    if settings.access_log:
        app[ACCESS_LOG] = AccessLog()
        app.cleanup_ctx.append(_access_log)
    app.router.add_post("/v1/chat/completions", openai_api.chat_completions)
    app.router.add_post("/v1/completions", openai_api.completions)
    app.router.add_post("/v1/embeddings", openai_api.embeddings)
    app.router.add_post("/v1/responses", openai_api.responses)
    app.router.add_get("/v1/models", openai_api.models)
    app.router.add_post("/v1/messages", anthropic_api.messages)
    app.router.add_post("/v1/feedback", ops_api.feedback)
    app.router.add_get("/healthz", ops_api.healthz)
    app.router.add_get("/readyz", ops_api.readyz)
    app.router.add_get("/metrics", ops_api.prometheus)
    app.router.add_get("/switchboard/config", ops_api.config_status)
    app.router.add_get("/switchboard/endpoints", ops_api.endpoints_status)
    return app


async def _client_session(app: web.Application) -> AsyncIterator[None]:
    # Pooled keep-alive connections to every upstream; no connection cap here (per-endpoint concurrency
    # limits do that), and no retries underneath: the executor's loop is the only one.
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30)
    session = aiohttp.ClientSession(
        connector=connector,
        auto_decompress=True,
        raise_for_status=False,
        timeout=aiohttp.ClientTimeout(total=None),
    )
    app[SESSION] = session
    app[SHADOWS] = Shadows(session, app[METRICS])
    yield
    await app[SHADOWS].stop()
    await session.close()


async def _access_log(app: web.Application) -> AsyncIterator[None]:
    app[ACCESS_LOG].start()
    yield
    await app[ACCESS_LOG].stop()


async def _config_watch(app: web.Application) -> AsyncIterator[None]:
    watcher, settings = app[WATCHER], app[SETTINGS]
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, watcher.request_reload)
    tasks = [asyncio.create_task(watcher.run(), name="config-watch")]
    if settings.watch_configmap:
        tasks.append(
            asyncio.create_task(watch_configmap(settings, watcher, app[SESSION]), name="configmap-watch")
        )
    yield
    loop.remove_signal_handler(signal.SIGHUP)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class _JsonErrorRequestHandler(RequestHandler):
    """Answers HTTP the parser refused (oversized headers, bad request lines) in the OpenAI error shape.

    aiohttp would log such a request with a traceback and answer with the offending bytes quoted; a
    header may carry a credential, so neither the log line nor the answer repeats anything the client sent.
    """

    def handle_error(
        self, request: Any, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if status >= 500:
            super().handle_error(request, status, exc, message)  # a bug: logged with its traceback
            text, type_, code = "internal error", "internal_error", "internal_error"
        else:
            if request.writer.output_size > 0:  # a response already started: nothing else can be sent
                raise ConnectionError("response already started; cannot send the parser error")
            status, text = _parser_error(exc)
            log.warning("refused malformed HTTP from %s: %s (%d)", request.remote, type(exc).__name__, status)
            type_, code = "invalid_request_error", "bad_request"
        body = error_body(status, message=text, type_=type_, code=code, param=None)
        response = web.Response(status=status, body=body, content_type="application/json")
        response.force_close()
        return response


def _parser_error(exc: BaseException | None) -> tuple[int, str]:
    """Status and our own words for a request the HTTP parser refused."""
    if isinstance(exc, LineTooLong):
        return 431, "a request header or the request line is too large"
    if isinstance(exc, InvalidHeader):
        return 400, "a request header is malformed"
    if isinstance(exc, BadStatusLine):
        return 400, "the request line is malformed"
    return 400, "malformed HTTP request"


class _JsonErrorServer(Server):
    def __call__(self) -> RequestHandler:
        return _JsonErrorRequestHandler(self, loop=self._loop, **self._kwargs)


class SidecarRunner(web.AppRunner):
    """AppRunner whose connections render parser errors as JSON (see _JsonErrorRequestHandler)."""

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer
        return server


def settle_memory() -> None:
    """Move the long-lived startup objects (modules, config, tables) out of the garbage collector's way.

    Without this a full collection walks ~60k long-lived objects every ~1,700 requests: a 30 ms pause of
    the event loop. Frozen objects are still freed by reference counting when they go away; and a larger
    first generation makes young collections rarer (the hot path allocates small, short-lived objects).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)


async def serve(settings: ProxySettings, *, ready: asyncio.Event | None = None) -> None:
    """Run the sidecar until SIGTERM/SIGINT, then drain in-flight requests and streams."""
    app = build_app(settings)
    runner = SidecarRunner(
        app, handler_cancellation=True, access_log=None, shutdown_timeout=settings.drain_seconds
    )
    await runner.setup()
    settle_memory()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=2048)
    await site.start()
    admin = await start_admin(app, settings)
    holder = app[CONFIG]
    version = holder.table.config.version if holder.table else "none (see /switchboard/config)"
    log.info(
        "switchboard-proxy listening on http://%s:%d, config %s from %s",
        settings.host,
        settings.port,
        version,
        settings.source,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if ready is not None:
        ready.set()
    await stop.wait()
    holder.draining = True
    log.info(
        "draining: no new connections, waiting up to %.0fs for in-flight requests", settings.drain_seconds
    )
    await runner.cleanup()
    if admin is not None:
        await admin.cleanup()
    log.info("stopped")
