"""`Exchange`: everything known about one model call, filled in as it goes and recorded once at the end."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from ..execution.runtime import RoutingTable
from ..execution.verdicts import Verdict
from ..routing import Plan
from ..routing.request import Api
from .errors import Unavailable
from .state import CONFIG


@dataclass(eq=False, slots=True)
class Exchange:
    """One call from entry to the access log."""

    request: web.Request
    api: Api
    table: RoutingTable
    started: float
    request_id: str
    plan: Plan | None = None
    stream: bool = False
    verdict: Verdict | None = None
    status: int = 0
    client_gone: bool = False
    finished: float = 0.0  # event-loop time the answer was complete (recording happens a moment later)


def current_table(request: web.Request) -> RoutingTable:
    """The table this request will use for its whole life (read once, at entry)."""
    table = request.app[CONFIG].table
    if table is None:
        raise Unavailable(
            "no valid config is loaded yet; see GET /switchboard/config", code="no_config", retry_after=1
        )
    return table
