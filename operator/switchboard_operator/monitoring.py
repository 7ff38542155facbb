"""The operator's monitoring listener (`--metrics-port`): GET /metrics for Prometheus and GET /readyz for the
kubelet. Kopf's own /healthz (`--liveness-port`) stays the liveness probe.

Ready means: started, and, when the webhook is on, a serving certificate is loaded and the webhook port
accepts connections, so the webhook Service only sends the API server's calls to replicas that answer
them. A replica that does not lead (peering) is ready too: it serves the webhook.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from .metrics import OperatorMetrics

ReadinessCheck = Callable[[], Awaitable[str]]  # "" when ready, else why not


async def is_listening(host: str, port: int, *, timeout: float = 1.0) -> bool:
    """Does something accept TCP connections on host:port?"""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError):
        return False
    writer.close()
    await writer.wait_closed()
    return True


def build_app(metrics: OperatorMetrics, readiness: ReadinessCheck) -> web.Application:
    async def serve_metrics(_: web.Request) -> web.Response:
        return web.Response(body=metrics.exposition(), content_type="text/plain", charset="utf-8")

    async def serve_readiness(_: web.Request) -> web.Response:
        why_not = await readiness()
        if why_not:
            return web.json_response({"status": "not ready", "reason": why_not}, status=503)
        return web.json_response({"status": "ready"})

    app = web.Application()
    app.add_routes([web.get("/metrics", serve_metrics), web.get("/readyz", serve_readiness)])
    return app


async def start_listener(
    port: int, metrics: OperatorMetrics, readiness: ReadinessCheck, *, host: str = "0.0.0.0"
) -> web.AppRunner:
    """Serve /metrics and /readyz on host:port until the returned runner is cleaned up."""
    runner = web.AppRunner(build_app(metrics, readiness), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
