"""Conditions from what the fleet loop wrote into status (pure), beside those from compiling.

- ModelRoute with an experiment: `ExperimentGuardrailTripped` (True, reason GuardrailTripped, naming the
  variant, metric, value and limit; else False, WithinGuardrails) and `ExperimentConcluded` (True with
  reason Promoted or Concluded and the verdict; False with Running, or PrometheusUnavailable);
- ModelEndpoint with a migration: `Migrated` (True once complete; False with Shadowing, Canary,
  RolledBack or Refused and the migration's own message).
The reconciler renders them with the others, so each change of one is also an Event.
"""

from __future__ import annotations

from switchboard_proxy.config import ModelEndpoint, ModelRoute
from switchboard_proxy.config.fleet import RUNNING, experiment_status_of, migration_status_of

from .conditions import Condition

_MIGRATION_REASONS = {
    "pending": "Pending",
    "shadow": "Shadowing",
    "canary": "Canary",
    "complete": "Complete",
    "rolled-back": "RolledBack",
    "refused": "Refused",
}
WARNING_REASONS = frozenset({"GuardrailTripped", "RolledBack", "Refused"})


def route_conditions(route: ModelRoute) -> list[Condition]:
    """The experiment's conditions; none without an experiment or before the fleet loop judged it."""
    status = experiment_status_of(route)
    if route.spec.experiment is None or status is None:
        return []
    if status.breaches:
        message = "; ".join(
            f"variant {b.variant}: {b.metric} {b.value:g} breaches its limit {b.limit:g}"
            for b in status.breaches
        )
        tripped = Condition(
            "ExperimentGuardrailTripped", "True", "GuardrailTripped", f"{message}; compiled at weight 0"
        )
    else:
        tripped = Condition(
            "ExperimentGuardrailTripped", "False", "WithinGuardrails", "every variant within its guardrails"
        )
    if status.message:
        concluded = Condition("ExperimentConcluded", "False", "PrometheusUnavailable", status.message)
    elif status.verdict == RUNNING:
        concluded = Condition(
            "ExperimentConcluded", "False", "Running", f"sequential test on {status.primary_metric} running"
        )
    elif status.promoted:
        concluded = Condition(
            "ExperimentConcluded", "True", "Promoted", f"{status.verdict}: compiled to 100% (autoPromote)"
        )
    else:
        concluded = Condition("ExperimentConcluded", "True", "Concluded", status.verdict)
    return [tripped, concluded]


def endpoint_conditions(endpoint: ModelEndpoint) -> list[Condition]:
    """The migration's condition; none without a migration or before the fleet loop started it."""
    status = migration_status_of(endpoint)
    if status is None:
        return []
    state = "True" if status.phase == "complete" else "False"
    return [Condition("Migrated", state, _MIGRATION_REASONS[status.phase], status.message or status.phase)]
