"""The admin listener: `/healthz`, `/readyz` and `/metrics` only, on a second address (`--admin-port`).

In a pod the model API stays on 127.0.0.1 (nothing outside the pod may spend its keys) while the kubelet's
probes and Prometheus need an address they can reach: injection binds this listener to 0.0.0.0:8788. It
is a separate tiny application sharing the main one's config holder and metrics, so it answers exactly
what the main app's operations endpoints answer and nothing else (every other path is a 404). Off unless
asked for, so that several local sidecars on one host do not collide.

It starts after the main listener and stops after it: while the main app drains, /readyz says
"draining" (503) and /healthz stays 200, so the kubelet neither routes to nor restarts a sidecar that is
finishing its streams.
"""

from __future__ import annotations

import logging

from aiohttp import web

from ..settings import ProxySettings
from . import ops_api
from .connections import SidecarRunner
from .state import CONFIG, METRICS

log = logging.getLogger("switchboard.proxy")


def build_admin_app(main: web.Application) -> web.Application:
    """The admin application, reading the state of `main` (its config holder and its metrics)."""
    admin = web.Application()
    admin[CONFIG], admin[METRICS] = main[CONFIG], main[METRICS]
    admin.router.add_get("/healthz", ops_api.healthz)
    admin.router.add_get("/readyz", ops_api.readyz)
    admin.router.add_get("/metrics", ops_api.prometheus)
    return admin


async def start_admin(main: web.Application, settings: ProxySettings) -> web.AppRunner | None:
    """Serve the admin application on --admin-host:--admin-port (None when the port is 0: off); the
    caller cleans the runner up after the main one."""
    if not settings.admin_port:
        return None
    runner = SidecarRunner(build_admin_app(main), access_log=None, handler_cancellation=True)
    await runner.setup()
    await web.TCPSite(runner, settings.admin_host, settings.admin_port).start()
    log.info(
        "admin listener (/healthz, /readyz, /metrics) on http://%s:%d",
        settings.admin_host,
        settings.admin_port,
    )
    return runner
