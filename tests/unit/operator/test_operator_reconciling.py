"""plan_namespace and Reconciler against an in-memory API (the pure part of the operator)."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from switchboard_operator.objects import CONFIG_MAP, CREDENTIALS_SECRET, VERSION_ANNOTATION
from switchboard_operator.reconciling import EventNote, Reconciler, Snapshot, plan_namespace
from switchboard_proxy.config import API_VERSION, RouterConfig

NOW = datetime(2026, 6, 1, tzinfo=UTC)
KEY = base64.b64encode(b"sk-very-secret-key-000").decode()


def obj(
    kind: str,
    name: str,
    spec: dict[str, Any],
    *,
    generation: int = 1,
    status: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body = {
        "apiVersion": API_VERSION,
        "kind": kind,
        "spec": spec,
        "metadata": {
            "name": name,
            "namespace": "team",
            "uid": f"uid-{kind}-{name}",
            "generation": generation,
        },
    }
    if status is not None:
        body["status"] = status
    return body


def endpoint(name: str, **spec: Any) -> dict[str, Any]:
    return obj("ModelEndpoint", name, {"url": "http://sim:9100/v1", "model": name, **spec})


def route(name: str, *targets: str, **spec: Any) -> dict[str, Any]:
    return obj("ModelRoute", name, {"targets": [{"endpoint": t} for t in targets], **spec})


def plan(
    *objects: dict[str, Any], secrets: dict[str, dict[str, str]] | None = None, now: datetime = NOW
) -> Any:
    return plan_namespace(Snapshot("team", list(objects), secrets or {}), now=now)


def produced(desired: Any, kind: str) -> dict[str, Any]:
    return next(o for o in desired.objects if o["kind"] == kind)


def status_of(desired: Any, name: str) -> dict[str, Any]:
    return next(u.status for u in desired.statuses if u.name == name)


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == kind)


def test_config_map_holds_the_compiled_config_and_its_version() -> None:
    desired = plan(endpoint("a"), route("chat", "a", default=True))
    config_map = produced(desired, "ConfigMap")
    config = RouterConfig.model_validate_json(config_map["data"]["config.json"])
    assert config.version == desired.version == config_map["metadata"]["annotations"][VERSION_ANNOTATION]
    assert config.namespace == "team" and config.default_route == "chat"
    assert config_map["metadata"]["name"] == CONFIG_MAP


def test_generated_objects_are_owned_by_every_route() -> None:
    desired = plan(endpoint("a"), route("r2", "a"), route("r1", "a"))
    for generated in desired.objects:
        owners = generated["metadata"]["ownerReferences"]
        assert [o["name"] for o in owners] == ["r1", "r2"]
        assert all(o["kind"] == "ModelRoute" and not o["controller"] for o in owners)


def test_no_route_means_nothing_is_applied() -> None:
    assert plan(endpoint("a")).objects == []


def test_keys_go_to_the_credentials_secret_never_to_the_config_map() -> None:
    desired = plan(
        endpoint("a", apiKey={"secretRef": {"name": "openai", "key": "api-key"}}),
        route("r", "a"),
        secrets={"openai": {"api-key": KEY}},
    )
    assert produced(desired, "Secret")["data"] == {"a": KEY}
    assert produced(desired, "Secret")["metadata"]["name"] == CREDENTIALS_SECRET
    text = json.dumps(produced(desired, "ConfigMap")) + json.dumps([u.status for u in desired.statuses])
    assert KEY not in text and "sk-very-secret" not in text
    assert desired.referenced_secrets == {"openai"}


@pytest.mark.parametrize(
    ("secrets", "reason", "field"),
    [
        pytest.param({}, "SecretNotFound", "spec.apiKey.secretRef.name", id="secret-missing"),
        pytest.param(
            {"openai": {"other": KEY}}, "SecretKeyNotFound", "spec.apiKey.secretRef.key", id="key-missing"
        ),
    ],
)
def test_missing_key_makes_the_endpoint_and_its_routes_not_ready(
    secrets: dict[str, Any],
    reason: str,
    field: str,
) -> None:
    desired = plan(
        endpoint("a", apiKey={"secretRef": {"name": "openai", "key": "api-key"}}),
        endpoint("b"),
        route("uses-a", "a"),
        route("uses-b", "b"),
        secrets=secrets,
    )
    ready = condition(status_of(desired, "a"), "ResolvedRefs")
    assert (ready["status"], ready["reason"]) == ("False", reason) and field in ready["message"]
    assert condition(status_of(desired, "uses-a"), "Ready")["reason"] == "RefNotReady"
    assert condition(status_of(desired, "uses-b"), "Ready")["status"] == "True"
    config = RouterConfig.model_validate_json(produced(desired, "ConfigMap")["data"]["config.json"])
    assert set(config.routes) == {"uses-b"}


def test_bad_resources_are_left_out_and_the_rest_is_served() -> None:
    desired = plan(
        endpoint("a"),
        route("good", "a", default=True),
        route("unknown-endpoint", "missing"),
        route("bad-weights", "a", targets=[{"endpoint": "a", "weight": 60}]),
    )
    config = RouterConfig.model_validate_json(produced(desired, "ConfigMap")["data"]["config.json"])
    assert set(config.routes) == {"good"}
    unknown = status_of(desired, "unknown-endpoint")
    assert condition(unknown, "ResolvedRefs")["reason"] == "RefNotFound"
    assert "spec.targets[0].endpoint" in condition(unknown, "Ready")["message"]
    invalid = status_of(desired, "bad-weights")
    assert condition(invalid, "Accepted")["reason"] == "Invalid"
    assert "spec.targets" in condition(invalid, "Accepted")["message"]


def test_conditions_carry_observed_generation_and_route_status_lists_endpoints() -> None:
    desired = plan(
        endpoint("a"),
        endpoint("b"),
        obj("FallbackPolicy", "p", {"chain": ["b"]}),
        route("r", "a", fallbackPolicy="p")
        | {"metadata": {"name": "r", "namespace": "team", "uid": "u", "generation": 7}},
    )
    status = status_of(desired, "r")
    assert status["observedGeneration"] == 7
    assert {c["observedGeneration"] for c in status["conditions"]} == {7}
    assert status["endpoints"] == ["a", "b"] and status["configVersion"] == desired.version


def test_deprecation_before_and_after_sunset() -> None:
    sunset = NOW + timedelta(days=1)
    objects = [
        endpoint("old", deprecation={"sunset": sunset.isoformat(), "replacement": "new"}),
        endpoint("new"),
        route("r", "old"),
    ]
    before = plan(*objects)
    deprecated = condition(status_of(before, "old"), "Deprecated")
    assert (deprecated["status"], deprecated["reason"]) == ("True", "Deprecated")
    assert any(e.type == "Warning" and e.reason == "Deprecated" and e.name == "old" for e in before.events)
    assert before.next_sunset == sunset
    assert status_of(before, "r")["endpoints"] == ["old"]
    after = plan(*objects, now=sunset + timedelta(seconds=1))
    assert condition(status_of(after, "old"), "Deprecated")["reason"] == "PastSunset"
    assert status_of(after, "r")["endpoints"] == ["new"]
    assert after.next_sunset is None


def test_the_sunset_passing_is_an_event_though_deprecated_stays_true() -> None:
    sunset = NOW + timedelta(days=1)
    objects = [
        endpoint("old", deprecation={"sunset": sunset.isoformat(), "replacement": "new"}),
        endpoint("new"),
        route("r", "old"),
    ]
    previous = status_of(plan(*objects), "old")
    later = [o | {"status": previous} if o["metadata"]["name"] == "old" else o for o in objects]
    after = plan(*later, now=sunset + timedelta(seconds=1))
    assert [(e.type, e.reason) for e in after.events if e.name == "old"] == [("Warning", "PastSunset")]


def test_unchanged_status_is_not_rewritten_and_transition_times_stay() -> None:
    first = plan(endpoint("a"), route("r", "a"))
    previous = status_of(first, "r")
    again = plan(endpoint("a"), route("r", "a") | {"status": previous}, now=NOW + timedelta(hours=1))
    assert [u.name for u in again.statuses] == ["a"]  # the route's status is already right
    assert not [e for e in again.events if e.name == "r"]


class FakeKube:
    """An in-memory API: objects by (kind, name); records writes."""

    def __init__(
        self, objects: list[dict[str, Any]], secrets: dict[str, dict[str, str]] | None = None
    ) -> None:
        self.objects = objects
        self.secrets = secrets or {}
        self.store: dict[tuple[str, str], dict[str, Any]] = {}
        self.applied: list[str] = []
        self.statuses: list[tuple[str, dict[str, Any]]] = []
        self.events: list[EventNote] = []

    def list_objects(self, namespace: str) -> list[dict[str, Any]]:
        return copy.deepcopy(self.objects)

    def read_secret_data(self, namespace: str, name: str) -> dict[str, str] | None:
        return self.secrets.get(name)

    def read(self, obj: dict[str, Any]) -> dict[str, Any] | None:
        return copy.deepcopy(self.store.get((obj["kind"], obj["metadata"]["name"])))

    def apply(self, obj: dict[str, Any]) -> None:
        self.applied.append(obj["kind"])
        self.store[(obj["kind"], obj["metadata"]["name"])] = copy.deepcopy(obj)

    def patch_status(self, namespace: str, plural: str, name: str, status: dict[str, Any]) -> None:
        self.statuses.append((name, status))
        for item in self.objects:
            if item["metadata"]["name"] == name:
                item["status"] = copy.deepcopy(status)

    def post_event(self, namespace: str, note: EventNote) -> None:
        self.events.append(note)


def test_reconcile_is_idempotent_and_quiet() -> None:
    kube = FakeKube([endpoint("a"), route("r", "a", default=True)])
    reconciler = Reconciler(kube)
    reconciler.reconcile_namespace("team", now=NOW)
    assert sorted(kube.applied) == ["ConfigMap", "Role", "RoleBinding", "Secret"]
    assert len(kube.statuses) == 2 and [e.reason for e in kube.events] == ["Ready", "Ready"]
    kube.applied.clear(), kube.statuses.clear(), kube.events.clear()
    reconciler.reconcile_namespace("team", now=NOW + timedelta(minutes=5))
    assert (kube.applied, kube.statuses, kube.events) == ([], [], [])


def test_a_change_rewrites_only_what_changed() -> None:
    kube = FakeKube([endpoint("a"), endpoint("b"), route("r", "a", default=True)])
    reconciler = Reconciler(kube)
    reconciler.reconcile_namespace("team", now=NOW)
    kube.applied.clear()
    kube.objects[2]["spec"]["targets"] = [{"endpoint": "b"}]
    kube.objects[2]["metadata"]["generation"] = 2
    reconciler.reconcile_namespace("team", now=NOW)
    assert kube.applied == ["ConfigMap"]
    config = RouterConfig.model_validate_json(kube.store[("ConfigMap", CONFIG_MAP)]["data"]["config.json"])
    assert [t.endpoint for t in config.routes["r"].variants[0].targets] == ["b"]


def test_without_routes_nothing_is_ready_but_everything_resolves() -> None:
    desired = plan(endpoint("a"), obj("FallbackPolicy", "p", {"chain": ["a"]}))
    for name in ("a", "p"):
        status = status_of(desired, name)
        ready, refs = condition(status, "Ready"), condition(status, "ResolvedRefs")
        assert (ready["status"], ready["reason"]) == ("False", "NoRoutes")
        assert refs["status"] == "True"
