"""Recent requests by id, so `POST /v1/feedback` can attribute a score to route, variant and endpoint.

A bounded ring: the oldest ids fall out first, so memory stays flat however long the sidecar runs.
"""

from __future__ import annotations

from typing import NamedTuple

DEFAULT_CAPACITY = 10_000


class Served(NamedTuple):
    """Who served a request."""

    route: str
    variant: str
    endpoint: str


class RecentRequests:
    """request id -> Served, holding at most `capacity` entries."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._entries: dict[str, Served] = {}  # insertion-ordered: the first key is the oldest

    def remember(self, request_id: str, served: Served) -> None:
        self._entries[request_id] = served
        if len(self._entries) > self.capacity:
            del self._entries[next(iter(self._entries))]

    def lookup(self, request_id: str) -> Served | None:
        return self._entries.get(request_id)

    def __len__(self) -> int:
        return len(self._entries)
