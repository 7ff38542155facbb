"""`SunsetSchedule`: when each namespace next needs a recompile because an endpoint's sunset passes (or
because a reconcile started by an event, which Kopf does not retry, failed and must run again)."""

from __future__ import annotations

import threading
from datetime import datetime


class SunsetSchedule:
    """namespace -> next sunset; `due(now)` hands out (and forgets) the namespaces whose time has come."""

    def __init__(self) -> None:
        self._next: dict[str, datetime] = {}
        self._lock = threading.Lock()  # written from Kopf's handler threads, read from the event loop

    def remember(self, namespace: str, sunset: datetime | None) -> None:
        with self._lock:
            if sunset is None:
                self._next.pop(namespace, None)
            else:
                self._next[namespace] = sunset

    def due(self, now: datetime) -> list[str]:
        with self._lock:
            ready = sorted(ns for ns, when in self._next.items() if when <= now)
            for namespace in ready:
                del self._next[namespace]
            return ready
