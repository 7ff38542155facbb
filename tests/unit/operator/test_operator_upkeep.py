"""The operator's own loop and metrics: only the leading replica reconciles, due namespaces and resyncs are
reconciled, failures come back next round, and a replica that stops leading forgets its namespaces'
figures; /metrics and /readyz of the monitoring listener."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from switchboard_operator.apierrors import KubeUnavailable
from switchboard_operator.main import settings_from_args
from switchboard_operator.metrics import OperatorMetrics
from switchboard_operator.monitoring import build_app
from switchboard_operator.scheduling import SunsetSchedule
from switchboard_operator.upkeep import PeeringGate, Upkeep

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def keep_alive(priority: int, seen: datetime = NOW) -> dict[str, Any]:
    return {"priority": priority, "lifetime": 15, "lastseen": seen.isoformat()}


class Fleet:
    """The peering object's status, and the namespaces reconciled (one failing, if asked)."""

    def __init__(self) -> None:
        self.status: dict[str, Any] = {"me": keep_alive(10)}
        self.reconciled: list[str] = []
        self.failing: set[str] = set()
        self.unreadable = False

    def read_peering(self, name: str, namespace: str | None) -> dict[str, Any]:
        if self.unreadable:
            raise KubeUnavailable("API server unreachable")
        return self.status

    def reconcile(self, namespace: str) -> bool:
        self.reconciled.append(namespace)
        return namespace not in self.failing


def upkeep(fleet: Fleet, metrics: OperatorMetrics, *, peering: str = "switchboard") -> Upkeep:
    gate = PeeringGate(fleet.read_peering, name=peering, identity="me", priority=10)
    loop = Upkeep(fleet.reconcile, lambda: ["team-a", "team-b"], SunsetSchedule(), gate, metrics)
    loop._resynced = NOW
    return loop


async def test_the_leader_reconciles_what_is_due_and_retries_failures() -> None:
    fleet, metrics = Fleet(), OperatorMetrics()
    loop = upkeep(fleet, metrics)
    loop.sunsets.remember("team-a", NOW - timedelta(seconds=1))
    loop.sunsets.remember("team-b", NOW + timedelta(hours=1))
    fleet.failing = {"team-a"}
    await loop.tick(NOW)
    assert fleet.reconciled == ["team-a"]
    await loop.tick(NOW + timedelta(seconds=10))
    assert fleet.reconciled == ["team-a", "team-a"]  # the failure was due again


async def test_every_known_namespace_is_resynced_after_resync_seconds() -> None:
    fleet, metrics = Fleet(), OperatorMetrics()
    loop = upkeep(fleet, metrics)
    await loop.tick(NOW + timedelta(seconds=10))
    assert fleet.reconciled == []
    assert metrics.last_success.at is None
    later = NOW + timedelta(seconds=loop.resync_seconds)
    await loop.tick(later)
    assert fleet.reconciled == ["team-a", "team-b"]
    assert metrics.last_success.at == later.timestamp()


async def test_a_resync_with_nothing_to_reconcile_is_a_success_and_a_failed_one_is_not() -> None:
    fleet, metrics = Fleet(), OperatorMetrics()
    loop = upkeep(fleet, metrics)
    loop.known_namespaces = list
    later = NOW + timedelta(seconds=loop.resync_seconds)
    await loop.tick(later)
    assert metrics.last_success.at == later.timestamp()
    loop.known_namespaces = lambda: ["team-a"]
    fleet.failing = {"team-a"}
    await loop.tick(later + timedelta(seconds=loop.resync_seconds))
    assert metrics.last_success.at == later.timestamp()


def test_last_success_is_absent_until_a_first_success() -> None:
    """A follower must not say 1970: the alert would take that for a very long time ago."""
    metrics = OperatorMetrics()
    assert "last_success" not in metrics.exposition().decode()
    metrics.record_resync(5.0)
    assert "switchboard_operator_last_success_timestamp_seconds 5.0" in metrics.exposition().decode()


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"other": keep_alive(20)}, id="an-older-replica-is-alive"),
        pytest.param({"unreadable": True}, id="peering-object-unreadable"),
    ],
)
async def test_a_follower_writes_nothing_and_forgets_its_namespaces(change: dict[str, Any]) -> None:
    fleet, metrics = Fleet(), OperatorMetrics()
    loop = upkeep(fleet, metrics)
    await loop.tick(NOW)
    metrics.record_reconcile("team-a", problems=2, budgets={"chat": (50.0, 3600)}, at=NOW.timestamp())
    fleet.status.update({k: v for k, v in change.items() if k != "unreadable"})
    fleet.unreadable = bool(change.get("unreadable"))
    loop.sunsets.remember("team-a", NOW)
    await loop.tick(NOW + timedelta(seconds=10))
    assert fleet.reconciled == []
    text = metrics.exposition().decode()
    assert "switchboard_operator_compile_problems{" not in text
    assert "switchboard_operator_route_budget_usd{" not in text
    assert "switchboard_operator_last_success_timestamp_seconds " in text  # max() over replicas still works


async def test_without_peering_the_one_replica_always_leads() -> None:
    fleet = Fleet()
    fleet.status = {}
    loop = upkeep(fleet, OperatorMetrics(), peering="")
    loop.sunsets.remember("team-b", NOW)
    await loop.tick(NOW)
    assert fleet.reconciled == ["team-b"]


def test_budgets_of_removed_routes_disappear_from_the_metrics() -> None:
    metrics = OperatorMetrics()
    metrics.record_reconcile("team-a", problems=0, budgets={"chat": (50.0, 3600)}, at=1.0)
    metrics.record_reconcile("team-a", problems=1, budgets={}, at=2.0)
    text = metrics.exposition().decode()
    assert 'switchboard_operator_route_budget_usd{namespace="team-a",route="chat"}' not in text
    assert 'switchboard_operator_compile_problems{namespace="team-a"} 1.0' in text
    assert "switchboard_operator_last_success_timestamp_seconds 2.0" in text
    assert 'switchboard_operator_reconciles_total{result="error"} 0.0' in text  # zero, not absent


async def test_the_monitoring_listener_serves_metrics_and_readiness() -> None:
    metrics = OperatorMetrics()
    metrics.record_admission("injected")
    reason = ["starting"]

    async def readiness() -> str:
        return reason[0]

    async with TestClient(TestServer(build_app(metrics, readiness))) as client:
        answer = await client.get("/metrics")
        assert 'switchboard_operator_webhook_admissions_total{result="injected"} 1.0' in await answer.text()
        assert (await client.get("/readyz")).status == 503
        reason[0] = ""
        assert (await client.get("/readyz")).status == 200


def test_the_chart_s_flags_parse() -> None:
    settings = settings_from_args(
        [
            *("--all-namespaces", "--peering", "switchboard", "--instance", "switchboard-abc"),
            *("--metrics-port", "8081", "--webhook-port", "9443"),
            *("--webhook-host", "switchboard.switchboard-system.svc"),
            *("--webhook-configuration", "switchboard"),
            *("--webhook-tls-secret", "switchboard-system/switchboard-webhook-tls"),
        ]
    )
    assert settings.peering.name == "switchboard" and settings.instance == "switchboard-abc"
    assert settings.webhook_tls.secret == "switchboard-system/switchboard-webhook-tls"
    assert settings.metrics_port == 8081 and settings.webhook_configuration == "switchboard"
