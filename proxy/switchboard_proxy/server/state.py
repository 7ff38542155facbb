"""The sidecar's process state, reachable only through these `web.AppKey`s (no module globals)."""

from __future__ import annotations

import random

import aiohttp
from aiohttp import web

from ..accounting.feedback import RecentRequests
from ..accounting.metrics import Metrics
from ..execution.attempts import Clients
from ..execution.shadowing import Shadows
from ..reloading import ConfigHolder
from ..settings import ProxySettings
from .access_log import AccessLog

SETTINGS = web.AppKey("settings", ProxySettings)
CONFIG = web.AppKey("config", ConfigHolder)
METRICS = web.AppKey("metrics", Metrics)
SESSION = web.AppKey("session", aiohttp.ClientSession)
# Both clients of attempts: the session above for streams, a lean pool for answers read whole.
CLIENTS = web.AppKey("clients", Clients)
RECENT = web.AppKey("recent", RecentRequests)
SHADOWS = web.AppKey("shadows", Shadows)
ACCESS_LOG = web.AppKey("access_log", AccessLog)
# The request's id, on the request itself (propagated from X-Request-Id, or made by the middleware).
REQUEST_ID = web.RequestKey("request_id", str)
# Request ids: 128 bits from a per-app generator seeded from os.urandom (no system call per request, as
# uuid4 or secrets would make; request ids correlate logs, they are not secrets).
REQUEST_IDS = web.AppKey("request_ids", random.Random)
