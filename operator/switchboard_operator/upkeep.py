"""The operator's own periodic work, beside Kopf's watches: what no watch event starts.

Every `interval` seconds, on the leading replica only (`PeeringGate`: Kopf pauses its watches on the
others, but not this loop):
- recompile the namespaces whose sunset has passed, or whose event-started reconcile failed (Kopf does
  not retry event handlers);
- every `resync_seconds`, recompile every namespace seen so far, so drift (an edited ConfigMap) is
  repaired and `switchboard_operator_last_success_timestamp_seconds` stays fresh while all is well (a
  round with no namespace at all counts as a success: there is nothing to reconcile).
A replica that stops leading forgets its per-namespace metrics. Separately, on every replica (each one
serves the webhook), the webhook certificate is checked every `tls_check_seconds`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from .apierrors import KubeConflict, KubeUnavailable
from .metrics import OperatorMetrics
from .peering import is_leading
from .scheduling import SunsetSchedule
from .webhook_tls import MissingTlsSecret

log = logging.getLogger("switchboard.operator")


@dataclass
class PeeringGate:
    """Is this replica the one that reconciles? Always, when there is no peering (one replica)."""

    read_peering: Callable[[str, str | None], dict[str, Any]]
    name: str = ""  # "" : standalone
    scopes: Sequence[str | None] = (None,)  # the watched namespaces, or None for the cluster-wide object
    identity: str = ""
    priority: int = 0

    def is_leading(self, now: datetime) -> bool:
        if not self.name:
            return True
        try:
            return all(
                is_leading(status, identity=self.identity, priority=self.priority, now=now)
                for status in (self.read_peering(self.name, scope) for scope in self.scopes)
            )
        except KubeUnavailable as exc:
            log.warning("peering object unreadable (%s); not reconciling until it is", exc)
            return False


class Certificate(Protocol):
    def ensure(self, now: datetime) -> None: ...


@dataclass
class Upkeep:
    """The loops of the module docstring; `reconcile(namespace)` returns whether it succeeded."""

    reconcile: Callable[[str], bool]
    known_namespaces: Callable[[], Iterable[str]]
    sunsets: SunsetSchedule
    gate: PeeringGate
    metrics: OperatorMetrics
    interval: float = 10.0
    resync_seconds: float = 300.0
    _leading: bool = False
    _resynced: datetime | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self, certificate: Certificate | None, tls_check_seconds: float) -> None:
        self._resynced = datetime.now(UTC)  # Kopf's resume handlers have just reconciled everything
        self._tasks.append(asyncio.create_task(self._loop()))
        if certificate is not None:
            self._tasks.append(asyncio.create_task(self._certificate_loop(certificate, tls_check_seconds)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.tick(datetime.now(UTC))

    async def tick(self, now: datetime) -> None:
        """One round: the due namespaces, if this replica leads."""
        leading = await asyncio.to_thread(self.gate.is_leading, now)
        if leading != self._leading:
            log.info("this replica %s reconciling", "is now" if leading else "stopped")
            if not leading:
                self.metrics.forget_namespaces()
            self._leading = leading
        if not leading:
            return
        due = set(self.sunsets.due(now))
        resync = self._resynced is None or (now - self._resynced).total_seconds() >= self.resync_seconds
        if resync:
            due |= set(self.known_namespaces())
            self._resynced = now
        failed = 0
        for namespace in sorted(due):
            if not await asyncio.to_thread(self.reconcile, namespace):
                self.sunsets.remember(namespace, now)  # again on the next round
                failed += 1
        if resync and not failed:
            self.metrics.record_resync(now.timestamp())

    async def _certificate_loop(self, certificate: Certificate, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(certificate.ensure, datetime.now(UTC))
            except (KubeUnavailable, KubeConflict, MissingTlsSecret) as exc:
                log.warning("webhook certificate not checked: %s; will try again", exc)
