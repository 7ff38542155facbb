"""The sidecar's process state, reachable only through these `web.AppKey`s (no module globals)."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from ..accounting.feedback import RecentRequests
from ..accounting.guardrails import Guardrails
from ..execution.shadowing import Shadows
from ..reloading import ConfigHolder
from ..settings import ProxySettings
from .access_log import AccessLog

SETTINGS = web.AppKey("settings", ProxySettings)
CONFIG = web.AppKey("config", ConfigHolder)
SESSION = web.AppKey("session", aiohttp.ClientSession)
RECENT = web.AppKey("recent", RecentRequests)
GUARDRAILS = web.AppKey("guardrails", Guardrails)
SHADOWS = web.AppKey("shadows", Shadows)
ACCESS_LOG = web.AppKey("access_log", AccessLog)
