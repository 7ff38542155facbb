"""A migration on a fake clock: shadow, canary steps, cutover before the sunset; refusal; rollback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from support.builders import compile_config, endpoint, route, typed
from switchboard_operator.migrations import advance
from switchboard_proxy.config import ModelEndpoint
from switchboard_proxy.config.fleet import Breach, MigrationStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
PLAN = {"shadowFor": "1h", "steps": [5, 25, 50, 100], "stepEvery": "1h"}


def old(sunset: datetime, plan: dict[str, Any] | None = None) -> ModelEndpoint:
    deprecation = {"sunset": sunset.isoformat(), "replacement": "new", "migration": plan or PLAN}
    resource = typed(endpoint("old", deprecation=deprecation))
    assert isinstance(resource, ModelEndpoint)
    return resource


def timeline(resource: ModelEndpoint, times: list[datetime], breach_at: int = -1) -> list[MigrationStatus]:
    statuses: list[MigrationStatus] = []
    previous = None
    for i, now in enumerate(times):
        breaches = (
            [Breach(variant="new", metric="error-rate", value=0.3, limit=0.05)] if i == breach_at else []
        )
        previous = advance(resource, previous, now=now, breaches=breaches)
        assert previous is not None
        statuses.append(previous)
    return statuses


def test_shadow_then_each_step_then_cutover_before_the_sunset() -> None:
    sunset = T0 + 10 * HOUR
    times = [T0, T0 + HOUR / 2, T0 + HOUR, T0 + 2 * HOUR, T0 + 3 * HOUR, T0 + 4 * HOUR, T0 + 5 * HOUR]
    statuses = timeline(old(sunset), times)
    assert [(s.phase, s.percent) for s in statuses] == [
        ("shadow", 0),
        ("shadow", 0),
        ("canary", 5),
        ("canary", 25),
        ("canary", 50),
        ("complete", 100),
        ("complete", 100),
    ]
    assert statuses[2].next_step_at == T0 + 2 * HOUR
    assert statuses[-1].step_started_at is not None and statuses[-1].step_started_at < sunset


def test_compile_follows_each_step() -> None:
    resource_doc = endpoint(
        "old", deprecation={"sunset": "2026-01-02T00:00:00Z", "replacement": "new", "migration": PLAN}
    )
    resource = typed(resource_doc)
    assert isinstance(resource, ModelEndpoint)
    shares = []
    previous = None
    for now in [T0 + n * HOUR for n in range(5)]:
        previous = advance(resource, previous, now=now)
        assert previous is not None
        doc = {**resource_doc, "status": {"migration": previous.model_dump(mode="json", by_alias=True)}}
        config = compile_config(doc, endpoint("new"), route("r", ["old"]))
        weights = {t.endpoint: t.weight for t in config.routes["r"].variants[0].targets}
        shares.append((weights.get("new", 0.0), config.routes["r"].shadow is not None))
    assert shares == [(0.0, True), (5.0, False), (25.0, False), (50.0, False), (100.0, False)]


def test_a_plan_that_cannot_fit_before_the_sunset_is_refused_with_what_to_do() -> None:
    status = advance(old(T0 + 3 * HOUR), None, now=T0)
    assert status is not None and status.phase == "refused"
    assert "needs 5h but only 3h are left" in status.message
    assert "move the sunset to 2026-01-01T05:00:00Z or later" in status.message


def test_a_breach_at_25_percent_rolls_back_and_stays() -> None:
    times = [T0, T0 + HOUR, T0 + 2 * HOUR, T0 + 2.5 * HOUR, T0 + 5 * HOUR]
    statuses = timeline(old(T0 + 10 * HOUR), times, breach_at=3)
    assert [(s.phase, s.percent) for s in statuses] == [
        ("shadow", 0),
        ("canary", 5),
        ("canary", 25),
        ("rolled-back", 0),
        ("rolled-back", 0),
    ]
    assert "rolled back at 25%" in statuses[3].message and "error-rate 0.3" in statuses[3].message


def test_an_edit_of_the_plan_starts_it_again() -> None:
    first = advance(old(T0 + 10 * HOUR), None, now=T0)
    assert first is not None
    edited = old(T0 + 10 * HOUR, {**PLAN, "shadowFor": "0s"})
    again = advance(edited, first, now=T0 + HOUR)
    assert again is not None and (again.phase, again.percent, again.started_at) == ("canary", 5, T0 + HOUR)


def test_no_plan_no_status() -> None:
    plain = typed(endpoint("e"))
    assert isinstance(plain, ModelEndpoint)
    assert advance(plain, None, now=T0) is None
