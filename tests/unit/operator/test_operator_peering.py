"""is_leading: Kopf's peering rule read back from the peering object's status; the oldest replica leads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from switchboard_operator.peering import is_leading, start_priority

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
ME, ME_PRIORITY = "operator-b", 100


def peer(priority: int, *, seen_seconds_ago: float = 1, lifetime: int = 15) -> dict[str, Any]:
    lastseen = (NOW - timedelta(seconds=seen_seconds_ago)).isoformat()
    return {"priority": priority, "lifetime": lifetime, "lastseen": lastseen}


@pytest.mark.parametrize(
    ("others", "leading"),
    [
        pytest.param({}, True, id="alone"),
        pytest.param({"operator-a": peer(50)}, True, id="lower-priority-peer"),
        pytest.param({"operator-a": peer(150)}, False, id="higher-priority-peer"),
        pytest.param({"operator-a": peer(ME_PRIORITY)}, False, id="same-priority-pauses-both"),
        pytest.param({"operator-a": peer(150, seen_seconds_ago=20)}, True, id="higher-but-dead"),
        pytest.param({"operator-a": peer(150, lifetime=0)}, True, id="higher-but-left"),
        pytest.param({"operator-a": "garbage"}, True, id="unreadable-entry"),
    ],
)
def test_who_leads(others: dict[str, Any], leading: bool) -> None:
    status = {ME: peer(ME_PRIORITY), **others}
    assert is_leading(status, identity=ME, priority=ME_PRIORITY, now=NOW) is leading


def test_not_leading_before_kopf_wrote_our_own_keep_alive() -> None:
    assert not is_leading({}, identity=ME, priority=ME_PRIORITY, now=NOW)


def test_the_earlier_start_has_the_higher_priority() -> None:
    assert start_priority(NOW, "a") > start_priority(NOW + timedelta(microseconds=1), "a")
    assert start_priority(NOW, "a") > start_priority(NOW + timedelta(microseconds=1), "b")


def test_replicas_started_at_the_same_moment_still_differ() -> None:
    """Same priority would pause both for good (Kopf pauses every peer of a tie)."""
    names = [f"switchboard-7d9f8b-{suffix}" for suffix in ("x2k4p", "q8z1m", "abcde", "fghij")]
    assert len({start_priority(NOW, name) for name in names}) == len(names)


def test_priorities_fit_the_api_server_s_int64() -> None:
    assert -(2**63) < start_priority(datetime(2100, 1, 1, tzinfo=UTC), "pod") < 0
