"""Judge a route's experiment from fleet-wide figures (pure): figures, guardrails, the sequential test.

`judge(route, previous, data, now)` returns the route's next `status.experiment`:
- per-variant figures with 95% intervals (`statistics`);
- fleet guardrails: a variant with `minRequests` requests whose error rate, p95 latency, mean feedback
  or cost per request breaches its limit is stopped for good (until the user edits the experiment), and
  compile gives it weight 0;
- the always-valid sequential test (mSPRT) of each variant against the control on `primaryMetric`,
  alpha split between the comparisons; once it concludes the verdict stays (the test has stopped), and
  with `autoPromote` the winner is promoted, unless a guardrail stopped it.
"""

from __future__ import annotations

import math
from datetime import datetime

from switchboard_proxy.config import ModelRoute
from switchboard_proxy.config.experiment_spec import Guardrails
from switchboard_proxy.config.fleet import (
    NO_DIFFERENCE,
    RUNNING,
    Breach,
    Estimate,
    ExperimentStatus,
    VariantFigures,
    fingerprint,
)
from switchboard_proxy.statistics import (
    Comparison,
    Sample,
    SequentialSettings,
    bernoulli,
    compare,
    from_histogram,
    share_above,
    with_spread,
)
from switchboard_proxy.statistics.samples import quantile
from switchboard_proxy.telemetry.figures import COST_SPREAD, EMPTY, figures
from switchboard_proxy.telemetry.measuring import Histogram, VariantData

ALPHA = 0.05
MIN_FEEDBACK_SCORES = 20  # a minFeedback guardrail judges no variant on fewer scores than this


def breaches(limits: Guardrails, name: str, found: VariantFigures) -> list[Breach]:
    """The guardrails this variant (or a migration's replacement) breaches fleet-wide (none before
    `minRequests`)."""
    if found.requests < limits.min_requests:
        return []
    checks: list[tuple[str, float | None, float | None, bool]] = [
        ("error-rate", found.error_rate.value if found.error_rate else None, limits.max_error_rate, True),
        ("latency-p95", found.latency_p95_ms, limits.max_p95_latency_ms, True),
        ("cost-per-request", _value(found.cost_per_request_usd), limits.max_cost_per_request_usd, True),
    ]
    if found.feedback_count >= MIN_FEEDBACK_SCORES:
        checks.append(("feedback", _value(found.feedback), limits.min_feedback, False))
    return [
        Breach(variant=name, metric=metric, value=value, limit=limit)
        for metric, value, limit, upper in checks
        if value is not None and limit is not None and (value > limit if upper else value < limit)
    ]


def _value(found: Estimate | None) -> float | None:
    return found.value if found is not None else None


def primary_samples(
    metric: str, control: VariantData, others: dict[str, VariantData]
) -> tuple[Sample, dict[str, Sample], SequentialSettings]:
    """The samples the sequential test compares, and how, for the experiment's primary metric."""
    everyone = {"": control, **others}
    if metric == "feedback":
        samples = {n: from_histogram(d.feedback.bounds, d.feedback.cumulative) for n, d in everyone.items()}
        settings = SequentialSettings(tau=0.05, margin=0.01, higher_is_better=True)
    elif metric == "latency-p95":
        # The share of requests slower than the control's p95: 5% for the control, more for a slower one.
        threshold = quantile(control.latency.bounds, control.latency.cumulative, 0.95) or math.inf
        samples = {n: _slower(d.latency, threshold) for n, d in everyone.items()}
        settings = SequentialSettings(tau=0.02, margin=0.005, higher_is_better=False)
    elif metric == "cost-per-request":
        samples = {
            n: with_spread(d.cost_usd, d.requests, coefficient_of_variation=COST_SPREAD)
            for n, d in everyone.items()
        }
        scale = samples[""].mean or 1e-6
        settings = SequentialSettings(tau=0.1 * scale, margin=0.02 * scale, higher_is_better=False)
    else:  # error-rate
        samples = {n: bernoulli(d.errors, d.requests) for n, d in everyone.items()}
        settings = SequentialSettings(tau=0.02, margin=0.005, higher_is_better=False)
    base = samples.pop("")
    return base, samples, settings


def _slower(histogram: Histogram, threshold: float) -> Sample:
    return share_above(histogram.bounds, histogram.cumulative, threshold)


def verdict_of(comparisons: dict[str, Comparison], control: str) -> tuple[str, str]:
    """(verdict, winner) from each variant's comparison with the control."""
    winners = [(name, c) for name, c in comparisons.items() if c.outcome == "candidate"]
    if winners:
        # The variant whose interval lies furthest on the better side.
        name, _ = max(winners, key=lambda item: min(abs(item[1].low), abs(item[1].high)))
        return f"{name} wins", name
    if comparisons and all(c.outcome == "control" for c in comparisons.values()):
        return f"{control} wins", control
    if comparisons and all(c.outcome in ("equivalent", "control") for c in comparisons.values()):
        return NO_DIFFERENCE, ""
    return RUNNING, ""


def judge(
    route: ModelRoute,
    previous: ExperimentStatus | None,
    data: dict[str, VariantData],
    *,
    now: datetime,
) -> ExperimentStatus:
    """The next status.experiment (see the module docstring)."""
    experiment = route.spec.experiment
    assert experiment is not None
    mark = fingerprint(experiment)
    if previous is not None and previous.fingerprint != mark:
        previous = None  # the user edited the experiment: it starts afresh
    names = [v.name for v in experiment.variants]
    control, others = names[0], names[1:]
    found = [figures(n, data.get(n, EMPTY)) for n in names]
    tripped = [b for f in found for b in breaches(experiment.guardrails, f.name, f)]
    stopped = sorted(set(previous.stopped if previous else ()) | {b.variant for b in tripped})
    verdict, winner = (previous.verdict, previous.winner) if previous else (RUNNING, "")
    if verdict == RUNNING:
        base, samples, settings = primary_samples(
            experiment.primary_metric, data.get(control, EMPTY), {n: data.get(n, EMPTY) for n in others}
        )
        settings = SequentialSettings(
            tau=settings.tau,
            margin=settings.margin,
            alpha=ALPHA / max(len(others), 1),
            higher_is_better=settings.higher_is_better,
            min_count=experiment.guardrails.min_requests,
        )
        comparisons = {n: compare(base, samples[n], settings) for n in others if n not in stopped}
        verdict, winner = verdict_of(comparisons, control)
    changed = previous is None or previous.verdict != verdict
    promoted = bool(experiment.auto_promote and winner and winner not in stopped)
    return ExperimentStatus(
        fingerprint=mark,
        verdict=verdict,
        since=now if changed or previous is None else previous.since,
        started_at=previous.started_at if previous else now,
        primary_metric=experiment.primary_metric,
        winner=winner,
        promoted=promoted,
        stopped=stopped,
        breaches=_kept_breaches(previous, tripped),
        variants=found,
        message="",
        checked_at=now,
    )


def _kept_breaches(previous: ExperimentStatus | None, tripped: list[Breach]) -> list[Breach]:
    """The breach that stopped each variant stays on record (the first one seen), with new ones added."""
    kept = {b.variant: b for b in (previous.breaches if previous else [])}
    for breach in tripped:
        kept.setdefault(breach.variant, breach)
    return [kept[name] for name in sorted(kept)]


def unavailable(
    route: ModelRoute, previous: ExperimentStatus | None, reason: str, *, now: datetime
) -> ExperimentStatus:
    """Prometheus could not be read: say so, and change nothing else."""
    experiment = route.spec.experiment
    assert experiment is not None
    mark = fingerprint(experiment)
    if previous is not None and previous.fingerprint == mark:
        return previous.model_copy(update={"message": f"Prometheus unavailable: {reason}"})
    return ExperimentStatus(
        fingerprint=mark,
        verdict=RUNNING,
        since=now,
        started_at=now,
        primary_metric=experiment.primary_metric,
        message=f"Prometheus unavailable: {reason}",
    )
