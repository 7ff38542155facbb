"""Watch the sidecar's ConfigMap through the Kubernetes API, so a change is served in seconds.

The kubelet refreshes a mounted ConfigMap only about once a minute; with `--watch-configmap NS/NAME` the
sidecar also lists and watches that one object (the operator grants `get`/`list`/`watch` on exactly it)
and hands each new `config.json` to the ConfigWatcher. While the watch is connected it is the
authoritative source; when the API is unreachable the mounted file stays the bootstrap and fallback.
Plain aiohttp, no Kubernetes client: the sidecar must stay small and must not import the operator's stack.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
from aiohttp.http_exceptions import HttpProcessingError

from ..settings import ProxySettings
from .watching import ConfigWatcher

log = logging.getLogger("switchboard.kubewatch")
SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
CONFIG_KEY = "config.json"
WATCH_SECONDS = 240  # the API server ends watches anyway; reconnecting regularly keeps proxies honest
MAX_BACKOFF_SECONDS = 30.0
# A watch event is one JSON line holding the whole ConfigMap (up to 1 MiB of data, more once escaped).
# aiohttp refuses lines over twice its read buffer (128 KiB by default): a config bigger than that would
# kill the watch, so the buffer is sized for the largest possible event.
READ_BUFFER_BYTES = 4 * 1024 * 1024


def api_base(settings: ProxySettings) -> str:
    if settings.kube_api:
        return settings.kube_api.rstrip("/")
    host, port = (
        os.environ.get("KUBERNETES_SERVICE_HOST", ""),
        os.environ.get("KUBERNETES_SERVICE_PORT", "443"),
    )
    if not host:
        raise RuntimeError("--watch-configmap needs --kube-api or an in-cluster KUBERNETES_SERVICE_HOST")
    return f"https://{host}:{port}"


def _ssl_context(settings: ProxySettings) -> ssl.SSLContext:
    ca = settings.kube_ca_file or SERVICE_ACCOUNT / "ca.crt"
    return ssl.create_default_context(cafile=str(ca)) if Path(ca).exists() else ssl.create_default_context()


def _auth_headers(settings: ProxySettings) -> dict[str, str]:
    # Re-read on every connection: projected service-account tokens rotate.
    token_file = settings.kube_token_file or SERVICE_ACCOUNT / "token"
    try:
        return {"Authorization": f"Bearer {Path(token_file).read_text().strip()}"}
    except OSError:
        return {}


async def watch_configmap(
    settings: ProxySettings, watcher: ConfigWatcher, session: aiohttp.ClientSession
) -> None:
    """List then watch the ConfigMap forever (until cancelled), reconnecting with capped backoff."""
    namespace, name = settings.watch_configmap.split("/", 1)
    try:
        base = f"{api_base(settings)}/api/v1/namespaces/{quote(namespace)}/configmaps"
    except RuntimeError as exc:
        log.error("ConfigMap watch %s is off: %s", settings.watch_configmap, exc)
        return
    context = _ssl_context(settings)
    backoff = 1.0
    try:
        while True:
            try:
                version = await _get(session, f"{base}/{quote(name)}", settings, context, watcher)
                watcher.api_is_authoritative = True
                backoff = 1.0
                await _watch(
                    session, f"{base}?fieldSelector=metadata.name%3D{quote(name)}", version, settings, watcher
                )
            except (
                aiohttp.ClientError,
                HttpProcessingError,
                OSError,
                TimeoutError,
                ValueError,
                RuntimeError,
            ) as exc:
                watcher.api_is_authoritative = False
                log.warning(
                    "ConfigMap watch %s failed (%s); mounted file is the source; retrying in %.0fs",
                    settings.watch_configmap,
                    exc,
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF_SECONDS, backoff * 2)
    finally:
        watcher.api_is_authoritative = False  # however the watch ends, the mounted file takes over again


async def _get(
    session: aiohttp.ClientSession,
    url: str,
    settings: ProxySettings,
    context: ssl.SSLContext,
    watcher: ConfigWatcher,
) -> str:
    async with session.get(
        url, headers=_auth_headers(settings), ssl=context, timeout=aiohttp.ClientTimeout(total=10)
    ) as response:
        if response.status != 200:
            raise RuntimeError(f"GET ConfigMap: HTTP {response.status}")
        document = orjson.loads(await response.read())
    _apply(document, watcher, settings)
    return str(document.get("metadata", {}).get("resourceVersion", ""))


async def _watch(
    session: aiohttp.ClientSession, url: str, version: str, settings: ProxySettings, watcher: ConfigWatcher
) -> None:
    params = {
        "watch": "1",
        "resourceVersion": version,
        "allowWatchBookmarks": "true",
        "timeoutSeconds": str(WATCH_SECONDS),
    }
    timeout = aiohttp.ClientTimeout(total=WATCH_SECONDS + 30, sock_read=WATCH_SECONDS + 30)
    headers = _auth_headers(settings)
    async with session.get(
        url,
        params=params,
        headers=headers,
        ssl=_ssl_context(settings),
        timeout=timeout,
        read_bufsize=READ_BUFFER_BYTES,
    ) as response:
        if response.status != 200:
            raise RuntimeError(f"watch ConfigMap: HTTP {response.status}")
        async for line in response.content:
            if line.strip():
                _handle_event(orjson.loads(line), watcher, settings)


def _handle_event(event: dict[str, Any], watcher: ConfigWatcher, settings: ProxySettings) -> None:
    kind = event.get("type")
    if kind in ("ADDED", "MODIFIED"):
        _apply(event.get("object") or {}, watcher, settings)
    elif kind == "ERROR":  # typically 410 Gone: our resourceVersion is too old; list again
        raise RuntimeError(f"watch error: {event.get('object', {}).get('message', 'unknown')}")


def _apply(document: dict[str, Any], watcher: ConfigWatcher, settings: ProxySettings) -> None:
    data = document.get("data") or {}
    if CONFIG_KEY in data:
        watcher.apply_text(data[CONFIG_KEY], source=f"configmap {settings.watch_configmap}")
