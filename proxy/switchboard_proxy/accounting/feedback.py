"""Recent requests by id, so `POST /v1/feedback` can attribute a score to route, variant and endpoint.

A bounded ring: the oldest ids fall out first, so memory stays flat however long the sidecar runs.
"""

from __future__ import annotations

from typing import NamedTuple

DEFAULT_CAPACITY = 10_000


class Served(NamedTuple):
    """Who served a request, and the quality an explore route counted for it (replaced by feedback)."""

    route: str
    variant: str
    endpoint: str
    quality: float | None = None  # None: the route does not explore


class RecentRequests:
    """request id -> Served, holding at most `capacity` entries."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._entries: dict[str, Served] = {}
        # The ids in arrival order, as a ring: the slot the next id takes holds the oldest one, which goes.
        # (Deleting a dict's first key instead would leave it scanning past the deleted ones.)
        self._ring: list[str | None] = [None] * capacity
        self._next = 0

    def remember(self, request_id: str, served: Served) -> None:
        if request_id not in self._entries:
            oldest = self._ring[self._next]
            if oldest is not None:
                del self._entries[oldest]
            self._ring[self._next] = request_id
            self._next = (self._next + 1) % self.capacity
        self._entries[request_id] = served

    def lookup(self, request_id: str) -> Served | None:
        return self._entries.get(request_id)

    def __len__(self) -> int:
        return len(self._entries)
