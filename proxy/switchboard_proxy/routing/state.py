"""Snapshots of live state the planner reads: per-endpoint health and load, per-route budget and guardrails.

The sidecar's `RoutingTable` owns the live objects (breakers, limiters, latency estimates) and hands the
planner this frozen view; `switchboard explain` builds one from flags (or uses the empty default: every
circuit closed, nothing in flight, no latency known).
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from typing import TYPE_CHECKING, Literal, NamedTuple

from .reasons import Reason

if TYPE_CHECKING:
    from .exploring import Beliefs, Tally
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


class RouterState(NamedTuple):
    """Everything live the planner needs, frozen for one decision."""

    endpoints: Mapping[str, EndpointState] = {}
    spent_routes: Container[str] = frozenset()  # routes whose budget window is spent
    stopped_variants: frozenset[tuple[str, str]] = frozenset()  # (route, variant) stopped by guardrails
    # Every variant's pool and chain after replacements, built with the sidecar's table; None: the planner
    # works the one it needs out on the spot.
    layouts: Layouts | None = None
    # Explore routes: the sidecar's own evidence since its config loaded, route -> endpoint -> tally.
    explore_tallies: Mapping[str, Mapping[str, Tally]] = {}
    # The posteriors of the route being planned; set by the planner for strategy explore only.
    beliefs: Beliefs | None = None

    def of(self, endpoint: str) -> EndpointState:
        # Indexing, not .get(): the sidecar's mapping takes its snapshots in __missing__.
        try:
            return self.endpoints[endpoint]
        except KeyError:
            return UNKNOWN
