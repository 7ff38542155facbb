"""Snapshots of live state the planner reads: per-endpoint health and load, per-route budget and guardrails.

The sidecar's `RoutingTable` owns the live objects (breakers, limiters, latency estimates) and hands the
planner this frozen view; `switchboard explain` builds one from flags (or uses the empty default: every
circuit closed, nothing in flight, no latency known).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NamedTuple

from .reasons import Reason

if TYPE_CHECKING:
    from .layouts import Layouts

Circuit = Literal["closed", "open", "half-open"]


class EndpointState(NamedTuple):
    """What is known right now about one endpoint."""

    circuit: Circuit = "closed"
    inflight: int = 0
    latency_ms: float = 0.0  # estimate of a whole non-streamed call; 0 = not measured yet
    ttft_ms: float = 0.0  # estimate of time to first token of a stream; 0 = not measured yet
    limited: Reason | None = None  # the limit that refuses new work now, e.g. Reason.CONCURRENCY_LIMIT

    def expected_ms(self, *, stream: bool) -> float:
        """Latency the caller will wait before it sees progress; 0 when unknown."""
        return self.ttft_ms if stream and self.ttft_ms > 0 else self.latency_ms


UNKNOWN = EndpointState()


@dataclass(frozen=True, slots=True)
class RouterState:
    """Everything live the planner needs, frozen for one decision."""

    endpoints: Mapping[str, EndpointState] = field(default_factory=dict)
    spent_routes: frozenset[str] = frozenset()  # routes whose budget window is spent
    stopped_variants: frozenset[tuple[str, str]] = frozenset()  # (route, variant) stopped by guardrails
    # Every variant's pool and chain after replacements, built with the sidecar's table; None: the planner
    # works the one it needs out on the spot.
    layouts: Layouts | None = None

    def of(self, endpoint: str) -> EndpointState:
        return self.endpoints.get(endpoint, UNKNOWN)
