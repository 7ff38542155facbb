"""Reconciling a namespace whose status holds fleet verdicts: the config compiles them, conditions and
Events report them with the metric and values."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from switchboard_operator.reconciling import Snapshot, plan_namespace
from switchboard_proxy.config import API_VERSION
from switchboard_proxy.config.experiment_spec import Experiment
from switchboard_proxy.config.fleet import fingerprint

NOW = datetime(2026, 6, 1, tzinfo=UTC)
EXPERIMENT = {
    "name": "exp",
    "variants": [{"name": "control", "weight": 50}, {"name": "candidate", "weight": 50}],
    "autoPromote": True,
}


def obj(kind: str, name: str, spec: dict[str, Any], status: dict[str, Any] | None = None) -> dict[str, Any]:
    metadata = {"name": name, "namespace": "team", "uid": f"uid-{name}", "generation": 1}
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": metadata,
        "spec": spec,
        "status": status or {},
    }


def namespace(experiment_status: dict[str, Any]) -> Snapshot:
    block = {"fingerprint": fingerprint(Experiment.model_validate(EXPERIMENT)), **experiment_status}
    return Snapshot(
        "team",
        [
            obj("ModelEndpoint", "a", {"url": "http://sim:9100/v1", "model": "a"}),
            obj(
                "ModelRoute",
                "r",
                {"targets": [{"endpoint": "a"}], "experiment": EXPERIMENT},
                {"experiment": block},
            ),
        ],
        {},
    )


def weights(snapshot: Snapshot) -> dict[str, int]:
    desired = plan_namespace(snapshot, now=NOW)
    config = json.loads(next(o for o in desired.objects if o["kind"] == "ConfigMap")["data"]["config.json"])
    return {v["name"]: v["weight"] for v in config["routes"]["r"]["variants"]}


def conditions(snapshot: Snapshot) -> dict[str, tuple[str, str, str]]:
    desired = plan_namespace(snapshot, now=NOW)
    (update,) = [u for u in desired.statuses if u.kind == "ModelRoute"]
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in update.status["conditions"]}


TRIPPED = {
    "stopped": ["candidate"],
    "breaches": [{"variant": "candidate", "metric": "error-rate", "value": 0.21, "limit": 0.05}],
}


def test_a_tripped_guardrail_compiles_weight_0_with_a_condition_and_a_warning() -> None:
    snapshot = namespace(TRIPPED)
    assert weights(snapshot) == {"control": 100, "candidate": 0}
    status, reason, message = conditions(snapshot)["ExperimentGuardrailTripped"]
    assert (status, reason) == ("True", "GuardrailTripped")
    assert "variant candidate: error-rate 0.21 breaches its limit 0.05" in message
    events = [e for e in plan_namespace(snapshot, now=NOW).events if e.reason == "ExperimentGuardrailTripped"]
    assert [(e.type, e.kind, e.name) for e in events] == [("Warning", "ModelRoute", "r")]
    assert "error-rate 0.21" in events[0].message


def test_a_promoted_winner_compiles_to_100_and_concludes() -> None:
    snapshot = namespace({"verdict": "candidate wins", "winner": "candidate", "promoted": True})
    assert weights(snapshot) == {"control": 0, "candidate": 100}
    assert conditions(snapshot)["ExperimentConcluded"][:2] == ("True", "Promoted")
    events = [e for e in plan_namespace(snapshot, now=NOW).events if e.reason == "Promoted"]
    assert events and events[0].type == "Normal"


def test_running_and_within_guardrails_posts_no_event() -> None:
    snapshot = namespace({"verdict": "running"})
    found = conditions(snapshot)
    assert found["ExperimentConcluded"][:2] == ("False", "Running")
    assert found["ExperimentGuardrailTripped"][:2] == ("False", "WithinGuardrails")
    reasons = {e.reason for e in plan_namespace(snapshot, now=NOW).events}
    assert not reasons & {"Running", "WithinGuardrails"}


def test_prometheus_down_is_a_condition() -> None:
    snapshot = namespace({"message": "Prometheus unavailable: refused"})
    assert conditions(snapshot)["ExperimentConcluded"] == (
        "False",
        "PrometheusUnavailable",
        "Prometheus unavailable: refused",
    )
