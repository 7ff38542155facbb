"""status.rollout from switchboard_config_info per pod."""

from __future__ import annotations

from switchboard_operator.rollout import rollout
from switchboard_proxy.telemetry.measuring import pods_by_version


def test_lagging_pods_are_named() -> None:
    pods = pods_by_version(
        [
            ({"pod": "a", "version": "v2"}, 1.0),
            ({"pod": "b", "version": "v2"}, 1.0),
            ({"pod": "c", "version": "v1"}, 1.0),
            ({"pod": "gone", "version": "v1"}, 0.0),
        ]
    )
    status = rollout("v2", pods)
    assert (status.current, status.total, status.lagging) == (2, 3, ["c"])


def test_everyone_current() -> None:
    assert rollout("v2", {"a": "v2"}).lagging == []
