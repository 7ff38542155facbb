"""Drive a planned migration off a deprecated endpoint on the operator's clock (pure).

`advance(endpoint, previous, now, breaches)` returns the endpoint's next `status.migration`:

    pending -> shadow (shadowFor) -> canary steps[0] -> ... -> steps[-1] = 100: complete
                  \\______________ a guardrail breach of the replacement ______________/-> rolled-back

- it starts when the operator first sees the plan (or the user changed it), and is refused at once when
  shadowFor + steps x stepEvery does not fit before the sunset;
- each phase is held for its time; a breach of the migration's guardrails by the replacement (judged
  fleet-wide over the current phase, after minRequests) rolls it back to 0%, with a Warning;
- rolled back or refused, it stays so until the user edits the deprecation; the sunset still moves
  all traffic (compile does that), because the endpoint is going away.
`compile()` reads the phase and percent back (`config.readback`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from switchboard_proxy.config import ModelEndpoint
from switchboard_proxy.config.endpoint_spec import Deprecation, Migration
from switchboard_proxy.config.fleet import Breach, MigrationStatus, VariantFigures, fingerprint
from switchboard_proxy.config.resolving import window_seconds

FINAL = ("complete", "rolled-back", "refused")


def _duration(text: str) -> timedelta:
    return timedelta(seconds=window_seconds(text)) if text[0] != "0" else timedelta(0)


def advance(
    endpoint: ModelEndpoint,
    previous: MigrationStatus | None,
    *,
    now: datetime,
    breaches: Sequence[Breach] = (),
    figures: VariantFigures | None = None,
) -> MigrationStatus | None:
    """The next status.migration; None when the endpoint plans no migration."""
    deprecation = endpoint.spec.deprecation
    if deprecation is None or deprecation.migration is None or deprecation.sunset is None:
        return None
    plan = deprecation.migration
    mark = fingerprint(deprecation)
    every = _duration(plan.step_every)
    if previous is None or previous.fingerprint != mark:
        return _begin(deprecation, plan, mark=mark, now=now)
    if previous.phase in FINAL:
        return previous
    if breaches:
        worst = breaches[0]
        return previous.model_copy(
            update={
                "phase": "rolled-back",
                "percent": 0,
                "next_step_at": None,
                "replacement": figures,
                "message": f"rolled back at {previous.percent}%: '{deprecation.replacement}' {worst.metric} "
                f"{worst.value:g} breached its limit {worst.limit:g}; traffic moves at the sunset anyway",
            }
        )
    if previous.next_step_at is None or now < previous.next_step_at:
        return previous.model_copy(update={"replacement": figures})
    step = previous.step + 1
    percent = plan.steps[step]
    done = percent >= 100
    return previous.model_copy(
        update={
            "phase": "complete" if done else "canary",
            "percent": percent,
            "step": step,
            "step_started_at": now,
            "next_step_at": None if done else now + every,
            "replacement": figures,
            "message": f"cut over: '{deprecation.replacement}' serves all traffic"
            if done
            else f"'{deprecation.replacement}' serves {percent}%",
        }
    )


def _begin(deprecation: Deprecation, plan: Migration, *, mark: str, now: datetime) -> MigrationStatus:
    """A new plan (or one the user changed): refused when it cannot fit before the sunset, else started."""
    assert deprecation.sunset is not None  # advance() starts only plans with a sunset
    shadow, every = _duration(plan.shadow_for), _duration(plan.step_every)
    needed = shadow + every * len(plan.steps)
    if now + needed > deprecation.sunset:
        left = max(deprecation.sunset - now, timedelta(0))
        return MigrationStatus(
            fingerprint=mark,
            phase="refused",
            started_at=now,
            message=f"the plan needs {_words(needed)} but only {_words(left)} are left before the "
            f"sunset {deprecation.sunset:%Y-%m-%dT%H:%M:%SZ}: move the sunset to "
            f"{now + needed:%Y-%m-%dT%H:%M:%SZ} or later, or shorten shadowFor or stepEvery",
        )
    first = "shadow" if shadow else "canary"
    return MigrationStatus(
        fingerprint=mark,
        phase=first,
        percent=0 if shadow else plan.steps[0],
        step=-1 if shadow else 0,
        started_at=now,
        step_started_at=now,
        next_step_at=now + (shadow or every),
        message=f"shadowing '{deprecation.replacement}' for {plan.shadow_for}"
        if shadow
        else f"'{deprecation.replacement}' serves {plan.steps[0]}%",
    )


def _words(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds >= 3600:
        return f"{seconds / 3600:g}h"
    if seconds >= 60:
        return f"{seconds / 60:g}m"
    return f"{seconds}s"
