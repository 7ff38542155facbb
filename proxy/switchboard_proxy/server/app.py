"""`build_app(settings)`: the sidecar's aiohttp application, and `serve()`, which runs it until SIGTERM.

State lives behind `web.AppKey`s; the client session, shadows and watchers live in `cleanup_ctx`, so
they start with the app and stop with it. Middlewares do only cross-cutting work: request ids and error
rendering. What happens below the request (malformed HTTP, slow clients) is connections.py's.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import random
import signal
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from ..accounting.feedback import RecentRequests
from ..accounting.metrics import Metrics
from ..execution.attempts import Clients
from ..execution.fleet import Fleet
from ..execution.http1 import Http1Pool
from ..execution.shadowing import Shadows
from ..reloading import ConfigHolder, ConfigWatcher
from ..reloading.kubewatch import watch_configmap
from ..settings import ProxySettings
from . import anthropic_api, openai_api, ops_api
from .access_log import AccessLog
from .admin import start_admin
from .connections import SidecarRunner
from .errors import Handler, at_the_edge, expect_handler, unrouted
from .state import ACCESS_LOG, CLIENTS, CONFIG, METRICS, RECENT, REQUEST_IDS, SESSION, SETTINGS, SHADOWS

log = logging.getLogger("switchboard.proxy")
WATCHER = web.AppKey("watcher", ConfigWatcher)
FLEET = web.AppKey("fleet", Fleet)


def build_app(settings: ProxySettings) -> web.Application:
    """The application, with its first config loaded (or its refusal recorded)."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    metrics = Metrics()
    holder = ConfigHolder()
    fleet = (
        Fleet(settings.state_url, timeout_seconds=settings.state_timeout_ms / 1000)
        if settings.state_url
        else None
    )
    watcher = ConfigWatcher(settings, holder, metrics, fleet=fleet)
    app[SETTINGS], app[CONFIG], app[WATCHER], app[METRICS] = settings, holder, watcher, metrics
    app[RECENT] = RecentRequests()
    app[REQUEST_IDS] = random.Random(os.urandom(16))
    watcher.load_initial()
    metrics.live.source = lambda: holder.table
    app.cleanup_ctx.append(_client_session)
    app.cleanup_ctx.append(_config_watch)
    if fleet is not None:
        fleet.source = lambda: holder.table
        metrics.live.fleet = fleet
        app[FLEET] = fleet
        app.cleanup_ctx.append(_shared_state)
    if settings.access_log:
        app[ACCESS_LOG] = AccessLog()
        app.cleanup_ctx.append(_access_log)
    routes: list[tuple[str, str, Handler]] = [
        ("POST", "/v1/chat/completions", openai_api.chat_completions),
        ("POST", "/v1/completions", openai_api.completions),
        ("POST", "/v1/embeddings", openai_api.embeddings),
        ("POST", "/v1/responses", openai_api.responses),
        ("POST", "/v1/messages", anthropic_api.messages),
        ("POST", "/v1/feedback", ops_api.feedback),
        ("GET", "/v1/models", openai_api.models),
        ("GET", "/healthz", ops_api.healthz),
        ("GET", "/readyz", ops_api.readyz),
        ("GET", "/metrics", ops_api.prometheus),
        ("GET", "/switchboard/config", ops_api.config_status),
        ("GET", "/switchboard/endpoints", ops_api.endpoints_status),
    ]
    add_routes(app, routes)
    return app


def add_routes(app: web.Application, routes: list[tuple[str, str, Handler]]) -> None:
    """Each handler wrapped by `at_the_edge`, POSTs answering `Expect` in JSON, and a last route that
    answers whatever no route took (404, or 405 on a known path) in the same shape."""
    methods_by_path: dict[str, set[str]] = {}
    for method, path, handler in routes:
        if method == "POST":
            app.router.add_post(path, at_the_edge(handler), expect_handler=expect_handler)
        else:
            app.router.add_get(path, at_the_edge(handler))  # and HEAD
        methods_by_path.setdefault(path, set()).update(("GET", "HEAD") if method == "GET" else (method,))
    app.router.add_route("*", "/{path:.*}", at_the_edge(unrouted(methods_by_path)))


async def _client_session(app: web.Application) -> AsyncIterator[None]:
    # Pooled keep-alive connections to every upstream; no connection cap here (per-endpoint concurrency
    # limits do that), and no retries underneath: the executor's loop is the only one.
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30)
    # No cookie jar: a provider's cookies (a CDN's bot-management ones, say) must not be replayed on other
    # apps' requests, and filtering a jar costs every request.
    session = aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=True,
        raise_for_status=False,
        timeout=aiohttp.ClientTimeout(total=None),
    )
    clients = app[CLIENTS] = Clients(session, Http1Pool())
    app[SESSION] = session
    app[SHADOWS] = Shadows(clients, app[METRICS])
    yield
    await app[SHADOWS].stop()
    await clients.pool.close()
    await session.close()


async def _shared_state(app: web.Application) -> AsyncIterator[None]:
    # Connected (or found away) before the first request, so that a sidecar starting with its fleet
    # does not spend a shared budget on its own; the loop then keeps the link, whatever Redis does.
    fleet = app[FLEET]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2):
            while not fleet.is_up:
                await fleet.connect_once()
                if not fleet.is_up:
                    await asyncio.sleep(0.2)
    if not fleet.is_up:
        log.warning("shared state unreachable at start: this sidecar enforces the whole limits alone")
    task = asyncio.create_task(fleet.run(), name="shared-state")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await fleet.close()


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


def settle_memory() -> None:
    """Move the long-lived startup objects (modules, config, tables) out of the garbage collector's way.

    Without this a full collection walks ~60k long-lived objects every ~1,700 requests: a 30 ms pause of
    the event loop. Frozen objects are still freed by reference counting when they go away; and a larger
    first generation makes young collections rarer (the hot path allocates small, short-lived objects).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
    return_large_buffers()


# glibc's M_MMAP_THRESHOLD: allocations from this size up get their own mapping, returned on free.
_M_MMAP_THRESHOLD = -3
LARGE_BUFFER_BYTES = 128 * 1024


def return_large_buffers() -> None:
    """Give request bodies' memory back to the system when they are freed.

    glibc raises its mmap threshold to the largest block freed so far (up to 32 MiB), so after the first
    large body every later one is carved from the heap, which returns little once fragmented: the RSS
    then stays at the high-water mark of concurrent large bodies. A fixed threshold keeps each buffer of
    128 KiB or more in its own mapping. Elsewhere (musl, macOS) this is skipped.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, LARGE_BUFFER_BYTES)


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
