"""Fold the fleet's explore evidence into route status (pure), at a bounded pace and only on real change.

Each sidecar counts, per route and endpoint, the requests its explore posterior observed and the sum of
their quality (`switchboard_explore_observations_total`, `switchboard_explore_quality_total`, minus
`switchboard_explore_quality_replaced_total` for qualities that feedback replaced). Summed over the
fleet, that is the evidence `compile()` adds to each endpoint's prior (`config.readback`), so a sidecar
that starts later begins from what all of them learned.

Writing status recompiles the namespace and reloads every sidecar, so a fold happens at most every
`min_interval_seconds`, and only when some endpoint's posterior mean moved by `min_shift` or its
evidence grew by `min_growth` (a fraction). Evidence never shrinks: a pod that went away takes its
counters with it, but not what the fleet already learned from it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from switchboard_proxy.config.fleet import Evidence, ExploreStatus


class ExploreSeries(NamedTuple):
    """The fleet-wide sums of one (route, endpoint), as Prometheus returns them."""

    route: str
    endpoint: str
    observations: float
    quality: float
    replaced: float


@dataclass(frozen=True)
class FoldPace:
    """How often and on how much change the operator rewrites explore evidence."""

    min_interval_seconds: float = 60.0
    min_shift: float = 0.02
    min_growth: float = 0.25


def fleet_evidence(series: Iterable[ExploreSeries]) -> dict[str, dict[str, Evidence]]:
    """route -> endpoint -> Evidence from the fleet's sums."""
    found: dict[str, dict[str, Evidence]] = {}
    for s in series:
        quality = min(max(s.quality - s.replaced, 0.0), s.observations)
        found.setdefault(s.route, {})[s.endpoint] = Evidence(
            endpoint=s.endpoint, observations=round(s.observations, 3), quality_sum=round(quality, 3)
        )
    return found


def fold(
    previous: ExploreStatus | None,
    current: Mapping[str, Evidence],
    *,
    now: datetime,
    pace: FoldPace,
) -> ExploreStatus | None:
    """The new status.explore, or None when it should stay as it is (too soon, or nothing moved)."""
    before = {e.endpoint: e for e in previous.evidence} if previous else {}
    merged = dict(before)
    for name, seen in current.items():
        kept = before.get(name)
        if kept is None or seen.observations > kept.observations:
            merged[name] = seen
    if merged == before:
        return None
    if previous is not None and previous.folded_at is not None:
        if (now - previous.folded_at).total_seconds() < pace.min_interval_seconds:
            return None
        if not any(_moved(before.get(name), seen, pace) for name, seen in merged.items()):
            return None
    evidence = [merged[name] for name in sorted(merged)]
    return ExploreStatus(evidence=evidence, folded_at=now)


def _moved(before: Evidence | None, after: Evidence, pace: FoldPace) -> bool:
    if before is None or before.observations <= 0:
        return after.observations > 0
    mean_before = before.quality_sum / before.observations
    mean_after = after.quality_sum / after.observations if after.observations else mean_before
    grown = (after.observations - before.observations) / before.observations
    return abs(mean_after - mean_before) >= pace.min_shift or grown >= pace.min_growth
