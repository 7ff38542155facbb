"""`RouteRequest`: what the planner knows about one call, already parsed and normalized by the server.

Built by the sidecar from the HTTP request (headers and body) and by `switchboard explain` from flags, so
both plan exactly the same way.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

Api = Literal["chat", "completions", "embeddings", "messages", "responses"]
Priority = Literal["critical", "standard", "sheddable"]

# Higher number = kept longer under load. A caller may lower its route's priority, never raise it.
PRIORITY_RANK: dict[str, int] = {"sheddable": 0, "standard": 1, "critical": 2}


class RouteRequest(NamedTuple):
    """A model call as the planner sees it."""

    api: Api = "chat"
    model: str = ""
    route_header: str = ""
    task: str = ""
    prompt_tokens: int = 0
    max_tokens: int = 0
    needs: frozenset[str] = frozenset()
    stream: bool = False
    deadline_ms: int | None = None
    priority: Priority | None = None
    sticky_key: str = ""
    request_id: str = ""
    session_key: str = ""  # affinity: X-Switchboard-Session, else (for affinity routes) the conversation


def effective_priority(route_priority: Priority, requested: Priority | None) -> Priority:
    """The route's priority, lowered (never raised) by the caller's hint."""
    if requested is None or PRIORITY_RANK[requested] >= PRIORITY_RANK[route_priority]:
        return route_priority
    return requested
