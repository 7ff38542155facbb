"""A pool of targets as users write it: endpoints with weights, and the strategy that orders them.

Shared by `route_spec` (the route's primary pool) and `experiment_spec` (a variant's own pool).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .spec_base import ResourceName, SpecModel

Strategy = Literal["weighted", "lowest-latency", "lowest-cost", "least-loaded", "explore"]

MAX_TARGETS = 32

# CEL: weights are either left out everywhere (equal shares) or given everywhere and add up to 100.
WEIGHTS_RULE = (
    "self.all(t, !has(t.weight)) || (self.all(t, has(t.weight)) && self.map(t, t.weight).sum() == 100)",
    "target weights must all be set and add up to 100, or all be left out",
)


class Target(SpecModel):
    """One endpoint of a pool, with its share of traffic for the weighted strategy."""

    endpoint: ResourceName = Field(description="ModelEndpoint name. Example: small-fast.")
    weight: int | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Percent of traffic for the weighted strategy; all weights of a pool add up to 100. "
        "Default: equal shares. Example: 90.",
    )


def check_weights(targets: list[Target], *, what: str = "target") -> None:
    """Raise ValueError unless weights are all absent, or all present and summing to 100."""
    given = [t.weight for t in targets if t.weight is not None]
    if given and (len(given) != len(targets) or sum(given) != 100):
        raise ValueError(
            f"{what} weights must all be set and add up to 100, or all be left out (got {sum(given)})"
        )


def check_unique_endpoints(targets: list[Target]) -> None:
    """Raise ValueError when a pool lists one endpoint twice."""
    names = [t.endpoint for t in targets]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"endpoint listed twice in one pool: {', '.join(duplicates)}")
