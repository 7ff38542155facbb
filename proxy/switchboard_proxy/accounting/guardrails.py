"""Experiment guardrails: stop a variant whose error rate breaches its limit once it has enough traffic.

`VariantGuard` is the one object that knows both each variant's health and which variants are stopped;
it lives on the `RoutingTable` and the planner reads its `stopped` set. A stopped variant hands its
sticky keys to the first variant still running (see routing.experiments.assign_variant). A reload keeps
the guard's state for every route whose experiment is unchanged; a changed experiment starts afresh.
Counts are per sidecar; the operator's statistics over all sidecars are the fleet-wide view.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import RouteConfig, RouterConfig
from ..config.model import ExperimentConfig


@dataclass
class VariantHealth:
    """Requests and failures of one variant since its experiment was loaded."""

    requests: int = 0
    failures: int = 0

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


def breaches(health: VariantHealth, experiment: ExperimentConfig) -> bool:
    """Has this variant seen enough requests, with too many failures, to be stopped?"""
    return health.requests >= experiment.min_requests and health.error_rate > experiment.max_error_rate


class VariantGuard:
    """Per (route, variant) health and the set of stopped (route, variant) pairs."""

    def __init__(self, routes: dict[str, RouteConfig] | None = None) -> None:
        self._routes = routes or {}
        self.health: dict[tuple[str, str], VariantHealth] = {}
        self.stopped: frozenset[tuple[str, str]] = frozenset()

    @classmethod
    def for_config(cls, config: RouterConfig, previous: VariantGuard | None) -> VariantGuard:
        """A guard for `config` that keeps what `previous` knew of every experiment left unchanged."""
        guard = cls({name: route for name, route in config.routes.items() if route.experiment is not None})
        if previous is None:
            return guard
        kept = {
            name
            for name, route in guard._routes.items()
            if _same_experiment(previous._routes.get(name), route)
        }
        guard.health = {key: health for key, health in previous.health.items() if key[0] in kept}
        guard.stopped = frozenset(key for key in previous.stopped if key[0] in kept)
        return guard

    def observe(self, route: str, variant: str, *, failed: bool) -> bool:
        """Count one outcome the variant is responsible for; True when it makes the variant stop."""
        config = self._routes.get(route)
        if config is None or config.experiment is None or (route, variant) in self.stopped:
            return False
        health = self.health.setdefault((route, variant), VariantHealth())
        health.requests += 1
        health.failures += int(failed)
        if not breaches(health, config.experiment):
            return False
        self.stopped |= {(route, variant)}
        return True


def _same_experiment(before: RouteConfig | None, after: RouteConfig) -> bool:
    return before is not None and before.experiment == after.experiment and before.variants == after.variants
