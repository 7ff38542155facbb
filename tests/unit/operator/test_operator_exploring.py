"""Folding fleet explore evidence into status: sums, never shrinking, a bounded pace, material change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from switchboard_operator.exploring import ExploreSeries, FoldPace, fleet_evidence, fold
from switchboard_proxy.config.fleet import Evidence, ExploreStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PACE = FoldPace(min_interval_seconds=60, min_shift=0.02, min_growth=0.25)


def evidence(observations: float, quality: float, name: str = "a") -> Evidence:
    return Evidence(endpoint=name, observations=observations, quality_sum=quality)


def test_fleet_evidence_subtracts_replaced_quality() -> None:
    found = fleet_evidence([ExploreSeries("r", "a", 100, 90, 30)])
    assert found == {"r": {"a": evidence(100, 60)}}


def test_the_first_fold_writes_at_once() -> None:
    status = fold(None, {"a": evidence(10, 5)}, now=T0, pace=PACE)
    assert status == ExploreStatus(evidence=[evidence(10, 5)], folded_at=T0)


def test_too_soon_or_too_little_change_writes_nothing() -> None:
    previous = ExploreStatus(evidence=[evidence(100, 50)], folded_at=T0)
    moved = {"a": evidence(200, 150)}
    assert fold(previous, moved, now=T0 + timedelta(seconds=30), pace=PACE) is None
    barely = {"a": evidence(110, 55)}  # same mean, 10% more evidence
    assert fold(previous, barely, now=T0 + timedelta(seconds=90), pace=PACE) is None
    assert fold(previous, moved, now=T0 + timedelta(seconds=90), pace=PACE) is not None


def test_evidence_never_shrinks_when_pods_go_away() -> None:
    previous = ExploreStatus(evidence=[evidence(100, 50), evidence(40, 10, "b")], folded_at=T0)
    later = T0 + timedelta(hours=1)
    status = fold(previous, {"a": evidence(20, 20), "b": evidence(80, 60, "b")}, now=later, pace=PACE)
    assert status is not None
    assert status.evidence == [evidence(100, 50), evidence(80, 60, "b")]
