"""Status conditions from compile results (pure): Accepted, ResolvedRefs, Ready, Deprecated.

- Accepted: the object itself is valid and not in conflict with another (reasons Invalid, Conflict,
  Duplicate);
- ResolvedRefs: everything it names exists and is usable (RefNotFound, RefNotReady, ReplacementCycle,
  SecretNotFound, SecretKeyNotFound);
- Ready: it is part of the served config (False with the first problem's reason otherwise; NoRoutes
  when the namespace has no ModelRoute, so no config is served at all);
- Deprecated (ModelEndpoint only): it declares a deprecation; reason PastSunset once traffic moved.

`lastTransitionTime` only changes when a condition's status changes, as metav1.Condition requires, so a
reconcile that changes nothing writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from switchboard_proxy.config import ConfigProblem

ACCEPTANCE_REASONS = frozenset({"Invalid", "Conflict", "Duplicate"})
READY_ONLY_REASONS = frozenset({"NoRoutes"})  # valid and resolved, but nothing is served


@dataclass(frozen=True, slots=True)
class Condition:
    """A metav1.Condition without its transition time (added when rendered)."""

    type: str
    status: str
    reason: str
    message: str


def conditions_for(
    problems: Sequence[ConfigProblem], *, deprecation: Condition | None = None
) -> list[Condition]:
    """The conditions of one object given its problems (empty when it compiled into the config)."""
    acceptance = [p for p in problems if p.reason in ACCEPTANCE_REASONS]
    references = [p for p in problems if p.reason not in ACCEPTANCE_REASONS | READY_ONLY_REASONS]
    result = [
        _condition("Accepted", acceptance, ok_reason="Accepted", ok_message="the spec is valid"),
        _condition(
            "ResolvedRefs", references, ok_reason="ResolvedRefs", ok_message="every reference resolves"
        ),
        _condition("Ready", list(problems), ok_reason="Ready", ok_message="served by the compiled config"),
    ]
    if deprecation is not None:
        result.append(deprecation)
    return result


def _condition(kind: str, problems: list[ConfigProblem], *, ok_reason: str, ok_message: str) -> Condition:
    if not problems:
        return Condition(kind, "True", ok_reason, ok_message)
    message = "; ".join(f"{p.field_path}: {p.message}" if p.field_path else p.message for p in problems)
    return Condition(kind, "False", problems[0].reason, message[:1024])


def deprecation_condition(spec: dict[str, Any], *, now: datetime) -> Condition:
    """Deprecated=True (with when and what replaces it) or Deprecated=False for a ModelEndpoint spec."""
    deprecation = spec.get("deprecation")
    if not isinstance(deprecation, dict):
        return Condition("Deprecated", "False", "NotDeprecated", "no deprecation declared")
    replacement = deprecation.get("replacement")
    sunset = deprecation.get("sunset")
    note = f" ({deprecation['message']})" if deprecation.get("message") else ""
    if sunset and _parse_time(sunset) <= now:
        return Condition(
            "Deprecated",
            "True",
            "PastSunset",
            f"sunset {sunset} has passed: traffic goes to '{replacement}'{note}",
        )
    when = f"at {sunset}" if sunset else "when you switch"
    target = f"'{replacement}'" if replacement else "another endpoint"
    return Condition(
        "Deprecated", "True", "Deprecated", f"deprecated: traffic moves to {target} {when}{note}"
    )


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def render(
    conditions: Sequence[Condition], *, previous: Sequence[dict[str, Any]], generation: int, now: datetime
) -> list[dict[str, Any]]:
    """metav1.Condition dicts, keeping each lastTransitionTime whose status did not change."""
    before = {c.get("type"): c for c in previous if isinstance(c, dict)}
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    rendered = []
    for condition in conditions:
        old = before.get(condition.type)
        unchanged = old is not None and old.get("status") == condition.status
        rendered.append(
            {
                "type": condition.type,
                "status": condition.status,
                "reason": condition.reason,
                "message": condition.message,
                "observedGeneration": generation,
                "lastTransitionTime": old.get("lastTransitionTime", stamp) if unchanged and old else stamp,
            }
        )
    return rendered


def transitions(conditions: Sequence[Condition], previous: Sequence[dict[str, Any]]) -> list[Condition]:
    """Conditions whose status or reason differs from before (a first status counts as a transition).

    A reason alone changing is news too: Deprecated stays True when the sunset passes and traffic moves
    (Deprecated -> PastSunset), and Ready stays False when its cause changes.
    """
    before = {c.get("type"): (c.get("status"), c.get("reason")) for c in previous if isinstance(c, dict)}
    return [c for c in conditions if before.get(c.type) != (c.status, c.reason)]
