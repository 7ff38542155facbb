"""Experiment guardrails: stop a variant whose error rate breaches its limit once it has enough traffic.

A stopped variant hands its sticky keys to the first variant still running (see
routing.experiments.assign_variant) until the config changes. Counts are per sidecar; the operator's
statistics over all sidecars are the fleet-wide view.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config.model import ExperimentConfig


@dataclass
class VariantHealth:
    """Requests and failures of one variant since its config was loaded."""

    requests: int = 0
    failures: int = 0

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


def breaches(health: VariantHealth, experiment: ExperimentConfig) -> bool:
    """Has this variant seen enough requests, with too many failures, to be stopped?"""
    return health.requests >= experiment.min_requests and health.error_rate > experiment.max_error_rate


class Guardrails:
    """Per (route, variant) health; says when a variant must stop."""

    def __init__(self) -> None:
        self.health: dict[tuple[str, str], VariantHealth] = {}

    def observe(self, route: str, variant: str, *, failed: bool, experiment: ExperimentConfig | None) -> bool:
        """Count one outcome; True when this outcome makes the variant breach its guardrails."""
        if experiment is None:
            return False
        health = self.health.setdefault((route, variant), VariantHealth())
        was_breaching = breaches(health, experiment)
        health.requests += 1
        health.failures += int(failed)
        return not was_breaching and breaches(health, experiment)
