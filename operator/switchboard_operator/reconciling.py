"""`Reconciler.reconcile_namespace`: list -> compile -> apply ConfigMap + Secret -> status and Events.

The whole namespace is recompiled on any change, with the same `compile()` the sidecar and the CLI use,
so the result depends only on what is in the API server now: reconciling is idempotent and a restarted
operator converges by running it again. The decision is the pure `plan_namespace(snapshot, now)`;
`reconcile_namespace` only reads, then writes what differs (an identical ConfigMap is never rewritten).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from switchboard_proxy.config import (
    API_VERSION,
    ConfigProblem,
    ModelEndpoint,
    ModelRoute,
    Resources,
    compile_leniently,
    parse_resource,
)
from switchboard_proxy.config.loading import AnyResource

from .conditions import Condition, conditions_for, deprecation_condition, render, transitions
from .credentials import assemble, referenced_secrets
from .fleet_conditions import WARNING_REASONS, endpoint_conditions, route_conditions
from .objects import (
    CREDENTIALS_SECRET,
    PLURALS,
    access_role,
    access_role_binding,
    config_map,
    credentials_secret,
    owner_references,
)

log = logging.getLogger("switchboard.operator")


@dataclass(frozen=True)
class Snapshot:
    """What the API server holds for one namespace: Switchboard objects and the Secrets they reference."""

    namespace: str
    objects: list[dict[str, Any]]
    secrets: dict[str, dict[str, str]]


@dataclass(frozen=True)
class StatusUpdate:
    kind: str
    name: str
    status: dict[str, Any]


@dataclass(frozen=True)
class EventNote:
    """An Event to post on one object."""

    kind: str
    name: str
    uid: str
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclass
class Desired:
    """Everything the namespace should look like; `reconcile_namespace` makes it so."""

    version: str
    objects: list[dict[str, Any]] = field(default_factory=list)  # ConfigMap, Secret, Role, RoleBinding
    statuses: list[StatusUpdate] = field(default_factory=list)
    events: list[EventNote] = field(default_factory=list)
    problems: list[ConfigProblem] = field(default_factory=list)
    referenced_secrets: set[str] = field(default_factory=set)
    next_sunset: datetime | None = None  # when this namespace must be compiled again
    budgets: dict[str, tuple[float, int]] = field(default_factory=dict)  # route -> (usd, window seconds)


def plan_namespace(snapshot: Snapshot, *, now: datetime) -> Desired:
    """The namespace's desired state (pure: same snapshot and time, same answer)."""
    typed, parse_problems = _parse(snapshot.objects)
    endpoints = [r for r in typed if r.kind == "ModelEndpoint"]
    credentials = assemble(endpoints, snapshot.secrets)
    compilation = compile_leniently(
        Resources.of(typed, namespace=snapshot.namespace),
        now=now,
        rejected=parse_problems + credentials.problems,
    )
    config = compilation.config
    upcoming = [
        e.spec.deprecation.sunset
        for e in endpoints
        if e.spec.deprecation and e.spec.deprecation.sunset and e.spec.deprecation.sunset > now
    ]
    desired = Desired(
        version=config.version,
        problems=list(compilation.problems),
        referenced_secrets=referenced_secrets(endpoints),
        next_sunset=min(upcoming, default=None),
        budgets={
            name: (route.budget.usd, route.budget.window_seconds)
            for name, route in config.routes.items()
            if route.budget is not None
        },
    )
    fleet = _fleet_conditions(typed)
    routes = [o for o in snapshot.objects if o.get("kind") == "ModelRoute"]
    if routes:  # no route left: nothing is applied, and the garbage collector removes what we owned
        owners = owner_references(routes)
        desired.objects = [
            config_map(snapshot.namespace, config, owners),
            credentials_secret(snapshot.namespace, credentials.data, owners),
            access_role(snapshot.namespace, owners),
            access_role_binding(snapshot.namespace, owners),
        ]
    for obj in snapshot.objects:
        problems = compilation.problems_of(obj["kind"], obj["metadata"]["name"])
        if not routes and not problems:
            problems = [
                ConfigProblem(
                    obj["kind"],
                    obj["metadata"]["name"],
                    "",
                    "no ModelRoute in this namespace: no config is served",
                    reason="NoRoutes",
                )
            ]
        _plan_status(
            obj, problems, config, desired, now, fleet=fleet.get((obj["kind"], obj["metadata"]["name"]), [])
        )
    return desired


def _parse(objects: list[dict[str, Any]]) -> tuple[list[AnyResource], list[ConfigProblem]]:
    typed: list[AnyResource] = []
    problems: list[ConfigProblem] = []
    for obj in objects:
        # Status goes along: compile reads back what the fleet loop wrote there (SPEC section 1).
        status = obj.get("status")
        resource, found = parse_resource(
            {**obj, "apiVersion": API_VERSION, "status": status if isinstance(status, dict) else None}
        )
        if resource is not None:
            typed.append(resource)
        problems.extend(found)
    return typed, problems


def _fleet_conditions(typed: list[AnyResource]) -> dict[tuple[str, str], list[Condition]]:
    """Conditions from the status blocks the fleet loop wrote (experiments, migrations)."""
    found: dict[tuple[str, str], list[Condition]] = {}
    for resource in typed:
        if isinstance(resource, ModelRoute):
            found[(resource.kind, resource.name)] = route_conditions(resource)
        elif isinstance(resource, ModelEndpoint):
            found[(resource.kind, resource.name)] = endpoint_conditions(resource)
    return found


def _plan_status(
    obj: dict[str, Any],
    problems: list[ConfigProblem],
    config: Any,
    desired: Desired,
    now: datetime,
    *,
    fleet: list[Condition],
) -> None:
    kind, metadata = obj["kind"], obj["metadata"]
    name = metadata["name"]
    status = obj.get("status") or {}
    previous = status.get("conditions") or []
    deprecation = deprecation_condition(obj.get("spec") or {}, now=now) if kind == "ModelEndpoint" else None
    conditions = conditions_for(problems, deprecation=deprecation) + fleet
    new_status: dict[str, Any] = {
        "observedGeneration": metadata.get("generation", 0),
        "conditions": render(
            conditions, previous=previous, generation=metadata.get("generation", 0), now=now
        ),
        "configVersion": config.version,
    }
    if kind == "ModelRoute":
        route = config.routes.get(name)
        served = (
            [t.endpoint for v in route.variants for t in v.targets]
            + [e for v in route.variants for e in v.policy.chain]
            if route
            else []
        )
        new_status["endpoints"] = list(dict.fromkeys(served))
    if {k: status.get(k) for k in new_status} != new_status:
        desired.statuses.append(StatusUpdate(kind, name, new_status))
    for condition in transitions(conditions, previous):
        note = _event_for(condition)
        if note is not None:
            desired.events.append(EventNote(kind, name, metadata.get("uid", ""), *note))


def _event_for(condition: Condition) -> tuple[str, str, str] | None:
    if condition.type == "Ready":
        if condition.status == "True":
            return ("Normal", "Ready", "compiled into switchboard-config")
        return ("Warning", condition.reason, f"not served: {condition.message}")
    if condition.type == "Deprecated" and condition.status == "True":
        return ("Warning", condition.reason, condition.message)
    if condition.type in FLEET_CONDITIONS and condition.reason not in QUIET_REASONS:
        kind = "Warning" if condition.reason in WARNING_REASONS else "Normal"
        return (kind, _FLEET_EVENT_REASONS.get(condition.reason, condition.reason), condition.message)
    return None


FLEET_CONDITIONS = frozenset({"ExperimentGuardrailTripped", "ExperimentConcluded", "Migrated"})
QUIET_REASONS = frozenset({"WithinGuardrails", "Running", "Pending"})  # the normal state: no Event
_FLEET_EVENT_REASONS = {"GuardrailTripped": "ExperimentGuardrailTripped", "RolledBack": "MigrationRolledBack"}


class Kube(Protocol):
    """The API calls reconciling needs (switchboard_operator.kube implements them)."""

    def list_objects(self, namespace: str) -> list[dict[str, Any]]: ...
    def read_secret_data(self, namespace: str, name: str) -> dict[str, str] | None: ...
    def read(self, obj: dict[str, Any]) -> dict[str, Any] | None: ...
    def apply(self, obj: dict[str, Any]) -> None: ...
    def patch_status(self, namespace: str, plural: str, name: str, status: dict[str, Any]) -> None: ...
    def post_event(self, namespace: str, note: EventNote) -> None: ...


class Reconciler:
    """Runs reconciles one at a time per namespace (several handlers may fire for one burst of changes)."""

    def __init__(self, kube: Kube) -> None:
        self.kube = kube
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)

    def reconcile_namespace(self, namespace: str, *, now: datetime) -> Desired:
        """Make the namespace match its resources, reading inside the namespace's lock so the last
        reconcile to run always works from the newest state."""
        kube = self.kube
        with self._locks[namespace]:
            objects = kube.list_objects(namespace)
            secrets = {}
            for name in sorted(_secret_names(objects)):
                data = kube.read_secret_data(namespace, name)
                if data is not None:
                    secrets[name] = data
            desired = plan_namespace(Snapshot(namespace, objects, secrets), now=now)
            written = [obj for obj in desired.objects if not _matches(kube.read(obj), obj)]
            for obj in written:
                kube.apply(obj)
            for update in desired.statuses:
                kube.patch_status(namespace, PLURALS[update.kind], update.name, update.status)
            for note in desired.events:
                kube.post_event(namespace, note)
            if written:
                log.info(
                    "namespace %s: config %s applied (%s); %d problem(s)",
                    namespace,
                    desired.version,
                    ", ".join(f"{o['kind']}/{o['metadata']['name']}" for o in written),
                    len(desired.problems),
                )
            return desired


def _secret_names(objects: list[dict[str, Any]]) -> set[str]:
    typed = [r for r in _parse(objects)[0] if r.kind == "ModelEndpoint"]
    return referenced_secrets(typed)


def _matches(current: dict[str, Any] | None, desired: dict[str, Any]) -> bool:
    """Does the live object already say what we would apply? (Then applying would only add noise.)"""
    if current is None:
        return False
    for key in ("data", "rules", "subjects", "roleRef", "type"):
        # The API server leaves out empty fields: a Secret with no keys reads back without `data`.
        if key in desired and (current.get(key) or None) != (desired[key] or None):
            return False
    metadata, live = desired["metadata"], current.get("metadata") or {}
    owners = {o["uid"] for o in metadata.get("ownerReferences", [])}
    live_owners = {o.get("uid") for o in live.get("ownerReferences") or []}
    labels_ok = all((live.get("labels") or {}).get(k) == v for k, v in metadata.get("labels", {}).items())
    notes_ok = all(
        (live.get("annotations") or {}).get(k) == v for k, v in metadata.get("annotations", {}).items()
    )
    return owners == live_owners and labels_ok and notes_ok


__all__ = ["CREDENTIALS_SECRET", "Desired", "Kube", "Reconciler", "Snapshot", "plan_namespace"]
