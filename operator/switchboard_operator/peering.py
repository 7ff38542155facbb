"""Who of several operator replicas reconciles (pure): Kopf's peering rule, read back from the peering object.

Every replica writes a keep-alive into the status of the KopfPeering (namespaced operators) or
ClusterKopfPeering (`--all-namespaces`) object: `{identity: {priority, lifetime, lastseen}}`. Kopf pauses
a replica's watches while a live peer has a higher priority, or the same one. Each replica gets its own
priority, from its start time, so the oldest replica leads and a new one (a rollout, a restart after a
crash) waits: one replica reconciles at a time, and a hard-killed leader is replaced once its last
keep-alive is older than its lifetime.

Kopf pauses its watches, not the operator's own background loop (sunsets, resyncs), so that loop asks
`is_leading` before it writes anything. The rule here mirrors `kopf._core.engines.peering`.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

TIE_BREAKS = 1000


def start_priority(started: datetime, identity: str) -> int:
    """A priority that is higher the earlier the replica started, and never equal to another replica's:
    two replicas with one priority would both pause (Kopf's rule), and a ReplicaSet starts its pods
    within the same millisecond often enough. Microseconds first, then a hash of the identity."""
    microseconds = int(started.timestamp() * 1_000_000)
    return -microseconds * TIE_BREAKS + zlib.crc32(identity.encode()) % TIE_BREAKS


def _parse(lastseen: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(lastseen))
    except ValueError:
        return None


def is_leading(status: Mapping[str, Any], *, identity: str, priority: int, now: datetime) -> bool:
    """Are we in the peering object (Kopf starts paused until it is), and does no live peer but us have
    our priority or a higher one?"""
    if identity not in status:
        return False
    for peer, info in status.items():
        if peer == identity or not isinstance(info, Mapping):
            continue
        lastseen = _parse(info.get("lastseen"))
        lifetime = timedelta(seconds=int(info.get("lifetime", 60)))
        if lastseen is None or lastseen + lifetime <= now:
            continue  # dead: its keep-alive expired
        if int(info.get("priority", 0)) >= priority:
            return False
    return True
