"""The fleet loop on a fake clock over an in-memory namespace: a migration steps through shadow and canary
to cutover, an injected regression at 25% rolls it back with a condition and a Warning, and Prometheus
being down changes nothing but the experiment's message.

The metric source answers by what a query asks for (the replacement's failed attempts or all of them),
so the loop, the pure steps and `plan_namespace` run as in the operator, without a Prometheus."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from switchboard_operator.fleet import FleetLoop
from switchboard_operator.reconciling import EventNote, Snapshot, plan_namespace
from switchboard_proxy.config import API_VERSION
from switchboard_proxy.telemetry.measuring import Vector
from switchboard_proxy.telemetry.prometheus import PrometheusUnavailable

T0 = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
PLURAL_KINDS = {
    "modelendpoints": "ModelEndpoint",
    "modelroutes": "ModelRoute",
    "fallbackpolicies": "FallbackPolicy",
}


def obj(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    metadata = {"name": name, "namespace": "team", "uid": f"uid-{name}", "generation": 1}
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec, "status": {}}


@dataclass
class MemoryKube:
    objects: list[dict[str, Any]]
    clock: list[datetime]
    events: list[EventNote] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def list_objects(self, namespace: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.objects)

    def patch_status(self, namespace: str, plural: str, name: str, status: dict[str, Any]) -> None:
        target = self.find(PLURAL_KINDS[plural], name)
        target["status"] = {**target["status"], **status}

    def reconcile(self, namespace: str) -> bool:
        desired = plan_namespace(Snapshot(namespace, copy.deepcopy(self.objects), {}), now=self.clock[0])
        for update in desired.statuses:
            target = self.find(update.kind, update.name)
            target["status"] = {**target["status"], **update.status}
        self.events += desired.events
        self.config = json.loads(
            next(o for o in desired.objects if o["kind"] == "ConfigMap")["data"]["config.json"]
        )
        return True

    def find(self, kind: str, name: str) -> dict[str, Any]:
        return next(o for o in self.objects if o["kind"] == kind and o["metadata"]["name"] == name)


@dataclass
class Replacement:
    """Answers the replacement's queries: `sent` attempts of which `failed` failed."""

    sent: float = 0.0
    failed: float = 0.0
    down: bool = False

    def vector(self, expression: str) -> Vector:
        if self.down:
            raise PrometheusUnavailable("http://prometheus:9090 unreachable: ConnectionRefusedError")
        if "switchboard_attempts_total" in expression:
            return [({}, self.failed if 'outcome!~"success' in expression else self.sent)]
        return []


def namespace(clock: list[datetime]) -> MemoryKube:
    deprecation = {
        "sunset": (T0 + 10 * HOUR).isoformat(),
        "replacement": "new",
        "migration": {"shadowFor": "1h", "steps": [5, 25, 50, 100], "stepEvery": "1h"},
    }
    kube = MemoryKube(
        [
            obj(
                "ModelEndpoint",
                "old",
                {"url": "http://sim:9100/v1", "model": "old", "deprecation": deprecation},
            ),
            obj("ModelEndpoint", "new", {"url": "http://sim:9100/v1", "model": "new"}),
            obj("ModelRoute", "r", {"targets": [{"endpoint": "old"}]}),
        ],
        clock,
    )
    kube.reconcile("team")
    return kube


def share_of_new(kube: MemoryKube) -> float:
    targets = kube.config["routes"]["r"]["variants"][0]["targets"]
    return next((t["weight"] for t in targets if t["endpoint"] == "new"), 0.0)


def run(kube: MemoryKube, metrics: Replacement, at: datetime) -> None:
    kube.clock[0] = at
    FleetLoop(kube, metrics, kube.reconcile).run_namespace("team", now=at)


def test_a_migration_cuts_over_before_the_sunset_on_the_operators_clock() -> None:
    clock = [T0]
    kube, metrics = namespace(clock), Replacement(sent=500)
    shares = []
    for hours in range(6):
        run(kube, metrics, T0 + hours * HOUR)
        shares.append((kube.find("ModelEndpoint", "old")["status"]["migration"]["phase"], share_of_new(kube)))
    assert shares == [
        ("shadow", 0.0),
        ("canary", 5.0),
        ("canary", 25.0),
        ("canary", 50.0),
        ("complete", 100.0),
        ("complete", 100.0),
    ]
    assert kube.config["routes"]["r"]["shadow"] is None  # shadowing ended with the shadow phase
    conditions = {c["type"]: c for c in kube.find("ModelEndpoint", "old")["status"]["conditions"]}
    assert (conditions["Migrated"]["status"], conditions["Migrated"]["reason"]) == ("True", "Complete")


def test_a_regression_at_25_percent_rolls_back_with_a_condition_and_a_warning() -> None:
    clock = [T0]
    kube, metrics = namespace(clock), Replacement(sent=500)
    for hours in range(3):
        run(kube, metrics, T0 + hours * HOUR)
    assert share_of_new(kube) == 25.0
    metrics.failed = 100  # 20% of the replacement's attempts fail now
    run(kube, metrics, T0 + 2.5 * HOUR)
    status = kube.find("ModelEndpoint", "old")["status"]
    assert (status["migration"]["phase"], share_of_new(kube)) == ("rolled-back", 0.0)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert (conditions["Migrated"]["status"], conditions["Migrated"]["reason"]) == ("False", "RolledBack")
    warnings = [e for e in kube.events if e.reason == "MigrationRolledBack"]
    assert [(e.type, e.name) for e in warnings] == [("Warning", "old")]
    assert "rolled back at 25%" in warnings[0].message and "error-rate 0.2" in warnings[0].message
    run(kube, Replacement(sent=500), T0 + 5 * HOUR)  # it stays rolled back
    assert share_of_new(kube) == 0.0


def test_prometheus_down_holds_the_migration() -> None:
    clock = [T0]
    kube = namespace(clock)
    run(kube, Replacement(sent=500), T0)
    run(kube, Replacement(down=True), T0 + 2 * HOUR)
    assert kube.find("ModelEndpoint", "old")["status"]["migration"]["phase"] == "shadow"
