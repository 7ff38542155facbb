"""Judging an experiment from fleet figures: guardrails, the sequential test, promotion, resets."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from support.builders import route, typed
from switchboard_operator.experiments import judge, unavailable
from switchboard_proxy.config import ModelRoute
from switchboard_proxy.telemetry.measuring import Histogram, VariantData

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SCORES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, math.inf)
LATENCY = (0.1, 0.25, 0.5, 1.0, 2.5, math.inf)


def experiment_route(**experiment: Any) -> ModelRoute:
    spec = {
        "name": "exp",
        "variants": [{"name": "control", "weight": 50}, {"name": "candidate", "weight": 50}],
        **experiment,
    }
    resource = typed(route("r", ["a"], experiment=spec))
    assert isinstance(resource, ModelRoute)
    return resource


def thumbs(n: int, mean: float) -> Histogram:
    """n feedback scores of 0 or 1 with this mean, as the sidecars' histogram holds them."""
    ups = round(n * mean)
    return Histogram(SCORES, tuple(float(n - ups) if b < 1.0 else float(n) for b in SCORES))


def data(requests: float, errors: float = 0, **extra: Any) -> VariantData:
    return VariantData(requests=requests, errors=errors, **extra)


def test_a_variant_breaching_its_error_rate_is_stopped_with_the_figures() -> None:
    status = judge(experiment_route(), None, {"control": data(400, 4), "candidate": data(400, 60)}, now=T0)
    assert status.stopped == ["candidate"]
    (breach,) = status.breaches
    assert (breach.variant, breach.metric, breach.value, breach.limit) == (
        "candidate",
        "error-rate",
        0.15,
        0.05,
    )
    candidate = next(v for v in status.variants if v.name == "candidate")
    assert candidate.error_rate is not None and candidate.error_rate.low < 0.15 < candidate.error_rate.high


def test_nothing_is_judged_before_min_requests() -> None:
    status = judge(experiment_route(), None, {"control": data(100), "candidate": data(100, 90)}, now=T0)
    assert status.stopped == [] and status.verdict == "running"


@pytest.mark.parametrize(
    ("guardrails", "candidate", "metric"),
    [
        pytest.param(
            {"maxP95LatencyMs": 1000},
            data(400, latency=Histogram(LATENCY, (0, 0, 0, 100, 400, 400))),
            "latency-p95",
            id="latency",
        ),
        pytest.param({"minFeedback": 0.5}, data(400, feedback=thumbs(300, 0.3)), "feedback", id="feedback"),
        pytest.param({"maxCostPerRequestUsd": 0.01}, data(400, cost_usd=8.0), "cost-per-request", id="cost"),
    ],
)
def test_each_guardrail(guardrails: dict[str, Any], candidate: VariantData, metric: str) -> None:
    status = judge(
        experiment_route(guardrails=guardrails), None, {"control": data(400), "candidate": candidate}, now=T0
    )
    assert [(b.variant, b.metric) for b in status.breaches] == [("candidate", metric)]


def test_a_better_candidate_concludes_and_is_promoted() -> None:
    route_ = experiment_route(primaryMetric="feedback", autoPromote=True)
    figures = {
        "control": data(3000, feedback=thumbs(3000, 0.70)),
        "candidate": data(3000, feedback=thumbs(3000, 0.78)),
    }
    status = judge(route_, None, figures, now=T0)
    assert (status.verdict, status.winner, status.promoted, status.since) == (
        "candidate wins",
        "candidate",
        True,
        T0,
    )


def test_without_auto_promote_the_verdict_is_only_reported() -> None:
    figures = {"control": data(3000, 300), "candidate": data(3000, 30)}
    status = judge(experiment_route(guardrails={"maxErrorRate": 0.5}), None, figures, now=T0)
    assert (status.verdict, status.promoted) == ("candidate wins", False)


def test_a_slower_candidate_loses_on_latency() -> None:
    slow = Histogram(LATENCY, (0, 0, 1000, 2000, 3000, 3000))
    fast = Histogram(LATENCY, (0, 2000, 2900, 3000, 3000, 3000))
    figures = {"control": data(3000, latency=fast), "candidate": data(3000, latency=slow)}
    status = judge(experiment_route(primaryMetric="latency-p95"), None, figures, now=T0)
    assert status.verdict == "control wins"


def test_same_variants_conclude_no_difference_eventually() -> None:
    figures = {"control": data(200_000, 2000), "candidate": data(200_000, 2000)}
    assert judge(experiment_route(), None, figures, now=T0).verdict == "no difference"


def test_a_concluded_verdict_stays_and_an_edit_resets_it() -> None:
    route_ = experiment_route(primaryMetric="error-rate", guardrails={"maxErrorRate": 0.5})
    concluded = judge(route_, None, {"control": data(3000, 300), "candidate": data(3000, 30)}, now=T0)
    later = T0 + timedelta(minutes=5)
    again = judge(route_, concluded, {"control": data(3000, 30), "candidate": data(3000, 30)}, now=later)
    assert (again.verdict, again.since, again.started_at) == ("candidate wins", T0, T0)
    edited = experiment_route(primaryMetric="feedback", guardrails={"maxErrorRate": 0.5})
    fresh = judge(edited, concluded, {}, now=later)
    assert (fresh.verdict, fresh.started_at) == ("running", later)


def test_a_stopped_winner_is_not_promoted() -> None:
    route_ = experiment_route(autoPromote=True, guardrails={"maxErrorRate": 0.1})
    previous = judge(route_, None, {"control": data(400, 4), "candidate": data(400, 60)}, now=T0)
    # Recovered and now better than the control; but stopped is stopped until the user edits.
    status = judge(route_, previous, {"control": data(5000, 450), "candidate": data(5000, 100)}, now=T0)
    assert status.stopped == ["candidate"]
    assert (status.verdict, status.promoted) == ("running", False)


def test_prometheus_down_says_so_and_keeps_the_rest() -> None:
    route_ = experiment_route()
    previous = judge(route_, None, {"control": data(400, 4), "candidate": data(400, 60)}, now=T0)
    status = unavailable(route_, previous, "connection refused", now=T0)
    assert status.message == "Prometheus unavailable: connection refused"
    assert status.model_dump(exclude={"message"}) == previous.model_dump(exclude={"message"})
