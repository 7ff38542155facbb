"""The fleet loop: read Prometheus, write what the fleet says into status, recompile when it matters.

Every `interval` seconds (on the leading replica), for each namespace the operator knows:
1. list its resources and read, per route and variant, the figures of SPEC section 7 (`measuring`);
2. judge experiments (`experiments`), fold explore evidence (`exploring`), advance migrations on the
   operator's clock (`migrations`) and count which sidecars serve the current config (`rollout`);
3. merge-patch the changed status blocks, then reconcile the namespace, whose `compile()` reads them back
   (SPEC section 1) and whose conditions and Events report them.
Prometheus down: each experiment's status says so, and nothing else changes (no step, no verdict).
The clock is a parameter (`run_namespace(namespace, now=...)`), so tests drive migrations on a fake one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from switchboard_proxy.config import API_VERSION, ModelEndpoint, ModelRoute, parse_resource
from switchboard_proxy.config.fleet import (
    ExperimentStatus,
    FleetModel,
    MigrationStatus,
    experiment_status_of,
    explore_status_of,
    migration_status_of,
)
from switchboard_proxy.telemetry.figures import figures
from switchboard_proxy.telemetry.measuring import (
    Vector,
    collect,
    collect_endpoint,
    config_info_query,
    endpoint_queries,
    pods_by_version,
    variant_queries,
)
from switchboard_proxy.telemetry.prometheus import PrometheusUnavailable

from .experiments import breaches as guardrail_breaches
from .experiments import judge, unavailable
from .exploring import ExploreSeries, FoldPace, fleet_evidence, fold
from .migrations import advance
from .objects import PLURALS
from .rollout import rollout

log = logging.getLogger("switchboard.operator")


class FleetKube(Protocol):
    def list_objects(self, namespace: str) -> list[dict[str, Any]]: ...
    def patch_status(self, namespace: str, plural: str, name: str, status: dict[str, Any]) -> None: ...


class MetricSource(Protocol):
    def vector(self, expression: str) -> Vector: ...


@dataclass
class FleetLoop:
    """See the module docstring; `reconcile(namespace)` recompiles it (True when it succeeded)."""

    kube: FleetKube
    prometheus: MetricSource
    reconcile: Callable[[str], bool]
    pace: FoldPace = field(default_factory=FoldPace)
    interval: float = 15.0
    _task: asyncio.Task[None] | None = None

    def run_namespace(self, namespace: str, *, now: datetime) -> bool:
        """One pass over a namespace; True when some status changed (and it was recompiled)."""
        objects = self.kube.list_objects(namespace)
        typed = [_typed(o) for o in objects]
        routes = [r for r in typed if isinstance(r, ModelRoute)]
        endpoints = [e for e in typed if isinstance(e, ModelEndpoint)]
        updates: dict[tuple[str, str], dict[str, Any]] = {}
        try:
            self._measure(namespace, routes, endpoints, now, updates)
        except PrometheusUnavailable as exc:
            log.warning("namespace %s: %s; fleet figures unchanged", namespace, exc)
            for route in routes:
                if route.spec.experiment is not None:
                    block = unavailable(route, experiment_status_of(route), str(exc), now=now)
                    _changed(updates, route, "experiment", experiment_status_of(route), block)
        for (kind, name), status in sorted(updates.items()):
            self.kube.patch_status(namespace, PLURALS[kind], name, status)
        if updates:
            self.reconcile(namespace)
        return bool(updates)

    def _measure(
        self,
        namespace: str,
        routes: list[ModelRoute],
        endpoints: list[ModelEndpoint],
        now: datetime,
        updates: dict[tuple[str, str], dict[str, Any]],
    ) -> None:
        for route in routes:
            if route.spec.experiment is not None:
                previous = experiment_status_of(route)
                age = (now - (previous.started_at or now)).total_seconds() if previous else 0
                results = {
                    k: self.prometheus.vector(q) for k, q in variant_queries(namespace, int(age)).items()
                }
                data = {variant: d for (r, variant), d in collect(results).items() if r == route.name}
                _changed(updates, route, "experiment", previous, judge(route, previous, data, now=now))
        self._fold_explore(namespace, routes, now, updates)
        for endpoint in endpoints:
            self._step_migration(namespace, endpoint, now, updates)
        self._rollout(namespace, routes, updates)

    def _fold_explore(
        self, namespace: str, routes: list[ModelRoute], now: datetime, updates: dict[tuple[str, str], Any]
    ) -> None:
        exploring = [r for r in routes if _explores(r)]
        if not exploring:
            return
        sums = {
            name: self.prometheus.vector(
                f'sum by (route, endpoint) (switchboard_explore_{name}_total{{namespace="{namespace}"}})'
            )
            for name in ("observations", "quality", "quality_replaced")
        }
        found: dict[tuple[str, str], list[float]] = {}
        for index, name in enumerate(("observations", "quality", "quality_replaced")):
            for labels, value in sums[name]:
                found.setdefault((labels.get("route", ""), labels.get("endpoint", "")), [0.0, 0.0, 0.0])[
                    index
                ] = value
        evidence = fleet_evidence(ExploreSeries(r, e, *v) for (r, e), v in found.items())
        for route in exploring:
            previous = explore_status_of(route)
            block = fold(previous, evidence.get(route.name, {}), now=now, pace=self.pace)
            if block is not None:
                updates.setdefault((route.kind, route.name), {})["explore"] = _dump(block)

    def _step_migration(
        self, namespace: str, endpoint: ModelEndpoint, now: datetime, updates: dict[tuple[str, str], Any]
    ) -> None:
        deprecation = endpoint.spec.deprecation
        if deprecation is None or deprecation.migration is None:
            return
        previous = migration_status_of(endpoint)
        found = tripped = None
        if previous is not None and previous.phase in ("shadow", "canary") and deprecation.replacement:
            start = (previous.step_started_at or now).timestamp()
            queries = endpoint_queries(namespace, deprecation.replacement, start)
            data = collect_endpoint({k: self.prometheus.vector(q) for k, q in queries.items()})
            found = figures(deprecation.replacement, data)
            tripped = guardrail_breaches(deprecation.migration.guardrails, found.name, found)
        block = advance(endpoint, previous, now=now, breaches=tripped or (), figures=found)
        _changed(updates, endpoint, "migration", previous, block)

    def _rollout(self, namespace: str, routes: list[ModelRoute], updates: dict[tuple[str, str], Any]) -> None:
        if not routes:
            return
        pods = pods_by_version(self.prometheus.vector(config_info_query(namespace)))
        for route in routes:
            version = (route.status or {}).get("configVersion", "")
            if not version:
                continue
            block = _dump(rollout(version, pods))
            if (route.status or {}).get("rollout") != block:
                updates.setdefault((route.kind, route.name), {})["rollout"] = block

    def start(self, namespaces: Callable[[], Iterable[str]], is_leading: Callable[[datetime], bool]) -> None:
        self._task = asyncio.create_task(self._loop(namespaces, is_leading))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(
        self, namespaces: Callable[[], Iterable[str]], is_leading: Callable[[datetime], bool]
    ) -> None:
        while True:
            await asyncio.sleep(self.interval)
            now = datetime.now(UTC)
            if not await asyncio.to_thread(is_leading, now):
                continue
            for namespace in sorted(namespaces()):
                try:
                    await asyncio.to_thread(self.run_namespace, namespace, now=now)
                except Exception as exc:  # logged and retried: the loop must outlive any one namespace
                    log.warning("namespace %s: fleet pass failed: %s: %s", namespace, type(exc).__name__, exc)


def _typed(obj: dict[str, Any]) -> Any:
    resource, _ = parse_resource({**obj, "apiVersion": API_VERSION})
    return resource


def _explores(route: ModelRoute) -> bool:
    variants = route.spec.experiment.variants if route.spec.experiment else []
    return route.spec.strategy == "explore" or any(v.strategy == "explore" for v in variants)


def _dump(block: FleetModel) -> dict[str, Any]:
    dumped: dict[str, Any] = block.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def _changed(
    updates: dict[tuple[str, str], dict[str, Any]],
    resource: ModelRoute | ModelEndpoint,
    key: str,
    previous: ExperimentStatus | MigrationStatus | None,
    block: ExperimentStatus | MigrationStatus | None,
) -> None:
    """Queue `block` unless it says what `previous` said (the time it was checked aside)."""
    if block is None:
        return
    quiet = {"checked_at"}
    if previous is not None and previous.model_dump(exclude=quiet) == block.model_dump(exclude=quiet):
        return
    updates.setdefault((resource.kind, resource.name), {})[key] = _dump(block)
