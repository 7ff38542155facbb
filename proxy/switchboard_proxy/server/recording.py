"""Record a finished exchange: metrics, the JSON access-log line, the feedback ring, guardrails.

Called exactly once per model call, whatever happened (served, degraded, refused, client gone), on the
turn of the event loop after the answer was written. Everything it needs is in the exchange and its
verdict. The log line carries ids, names, numbers and reasons, never a header value or body, so no key
can reach it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, NamedTuple

from ..accounting.feedback import Served
from ..accounting.metrics import Metrics, Series
from ..accounting.usage import Usage
from ..execution.outcomes import Ended
from ..execution.relaying import StreamEnd
from ..execution.verdicts import (
    BudgetExhausted,
    DeadlineExceeded,
    Degrade,
    ServedJson,
    ServedStream,
    Shed,
    Throttled,
    UpstreamError,
    Verdict,
    served_by,
)
from ..routing import Plan
from .exchange import Exchange
from .state import ACCESS_LOG, METRICS, RECENT

log = logging.getLogger("switchboard.proxy")


class Facts(NamedTuple):
    """What a served answer says about itself, whether JSON or a stream that has ended."""

    usage: Usage
    cost_usd: float
    finish_reason: str
    output_empty: bool
    ttft_seconds: float | None
    estimated: bool = False  # the upstream reported no usage: the sidecar counted it


NOTHING = Facts(Usage(), 0.0, "", False, None)


def record(exchange: Exchange) -> None:
    """Account for one exchange."""
    metrics = exchange.request.app[METRICS]
    status = exchange.status or 499  # cancelled before any answer: the client went away
    plan, verdict = exchange.plan, exchange.verdict
    route = plan.route.name if plan else "none"
    variant = plan.variant.name if plan else "none"
    endpoint = (served_by(verdict) if verdict is not None else "") or "none"
    facts = _facts(exchange, verdict)
    duration = (exchange.finished or asyncio.get_running_loop().time()) - exchange.started
    series = metrics.series(route, variant, endpoint)
    series.request(status).inc()
    if plan is not None and verdict is not None:
        series.duration.observe(duration)
        if plan.affinity:
            metrics.affinity.labels(route, plan.affinity).inc()
        if plan.pick is not None:
            choice = "explored" if plan.pick.explored else "best"
            metrics.explore_choices.labels(route, plan.pick.chosen, choice).inc()
        _record_attempts(metrics, series, plan, verdict, endpoint)
        _record_refusals(metrics, plan, verdict)
        _record_served(exchange, series, facts)
        _remember(exchange, metrics, plan, endpoint, status, facts)
    writer = exchange.request.app.get(ACCESS_LOG)
    if writer is not None:
        writer.write(_line(exchange, status, endpoint, facts, duration))


def _facts(exchange: Exchange, verdict: Verdict | None) -> Facts:
    if isinstance(verdict, ServedJson):
        return Facts(
            verdict.usage,
            verdict.cost_usd,
            verdict.finish_reason,
            verdict.output_empty,
            None,
            verdict.usage_estimated,
        )
    if isinstance(verdict, ServedStream):
        body = verdict.body
        tally = body.tally
        return Facts(
            body.usage,
            body.cost_usd,
            tally.finish_reason,
            tally.output_chars == 0,
            verdict.first_byte - exchange.started,
            body.usage_estimated,
        )
    return NOTHING


def _record_attempts(metrics: Metrics, series: Series, plan: Plan, verdict: Verdict, endpoint: str) -> None:
    route = plan.route.name
    midstream = isinstance(verdict, ServedStream) and verdict.body.end == StreamEnd.MIDSTREAM_FAILURE
    for attempt in verdict.trail.records:
        if attempt.endpoint == endpoint and attempt.outcome == Ended.SUCCESS and not midstream:
            series.success.inc()  # the attempt that served: its children are at hand
            series.upstream.observe(attempt.seconds)
            continue
        # The attempt that served a stream that then broke failed after all; not a fallback: nothing else
        # may continue it.
        label = Ended.MIDSTREAM_FAILURE if attempt.outcome == Ended.SUCCESS and midstream else attempt.label
        metrics.attempts.labels(route, attempt.endpoint, label).inc()
        if attempt.seconds and not attempt.skipped:
            metrics.upstream_duration.labels(attempt.endpoint).observe(attempt.seconds)
    reason = verdict.trail.fallback_reason
    if reason and endpoint != "none" and plan.attempts:
        metrics.fallbacks.labels(route, plan.variant.name, plan.attempts[0].endpoint, endpoint, reason).inc()


def _record_refusals(metrics: Metrics, plan: Plan, verdict: Verdict) -> None:
    if isinstance(verdict, Shed | Throttled):
        metrics.shed.labels(plan.route.name, plan.priority, verdict.reason).inc()
    elif isinstance(verdict, BudgetExhausted):
        metrics.shed.labels(plan.route.name, plan.priority, "budget").inc()
    elif isinstance(verdict, Degrade | DeadlineExceeded):
        metrics.degraded.labels(
            plan.route.name, plan.variant.name, verdict.trail.fallback_reason or "unknown"
        ).inc()


def _record_served(exchange: Exchange, series: Series, facts: Facts) -> None:
    if facts is NOTHING:
        return
    for child, count in zip(series.tokens, facts.usage, strict=True):
        if count:
            child.inc(count)
    if facts.estimated:
        for child, count in zip(series.estimated, facts.usage[:2], strict=True):
            if count:
                child.inc(count)
    if facts.cost_usd:
        series.cost.inc(facts.cost_usd)  # the route's budget was settled by the attempt's lease
    if facts.ttft_seconds is not None:
        series.ttft.observe(facts.ttft_seconds)
    if facts.finish_reason:
        series.finish(facts.finish_reason).inc()
    if facts.output_empty and exchange.api != "embeddings" and not exchange.client_gone:
        assert exchange.plan is not None
        series.metrics.empty_outputs.labels(exchange.plan.route.name, series.labels[2]).inc()


def _remember(
    exchange: Exchange, metrics: Metrics, plan: Plan, endpoint: str, status: int, facts: Facts
) -> None:
    app = exchange.request.app
    route, variant = plan.route.name, plan.variant.name
    failed = is_variant_failure(exchange.verdict, status)
    judged = failed is not None and not exchange.client_gone
    quality = _explore(exchange, metrics, endpoint, facts) if judged else None
    if endpoint != "none":
        app[RECENT].remember(exchange.request_id, Served(route, variant, endpoint, quality))
    if failed is None or exchange.client_gone:
        return  # a client that left, or its own mistake, says nothing about the variant's quality
    if exchange.table.guard.observe(route, variant, failed=failed):
        metrics.variant_stopped.labels(route, variant).set(1)
        experiment = plan.route.experiment
        log.warning(
            "guardrails stopped variant %s of route %s (error rate over %.3f)",
            variant,
            route,
            experiment.max_error_rate if experiment else 0.0,
        )


def _explore(exchange: Exchange, metrics: Metrics, endpoint: str, facts: Facts) -> float | None:
    """Count the request's evidence on a route that explores; the served endpoint's quality, or None.

    Every endpoint that was sent the request and failed counts a 0; the one that served counts a 1
    unless its answer was cut short (finish_reason length, nothing generated, a stream that broke).
    """
    plan, verdict = exchange.plan, exchange.verdict
    assert plan is not None and verdict is not None
    ledger, route = exchange.table.explore, plan.route.name
    if not ledger.explores(route):
        return None
    midstream = isinstance(verdict, ServedStream) and verdict.body.end == StreamEnd.MIDSTREAM_FAILURE
    quality: float | None = None
    for attempt in verdict.trail.records:
        if attempt.skipped or attempt.outcome in (Ended.CANCELLED, Ended.HEDGE_LOST):
            continue
        served = attempt.endpoint == endpoint and attempt.outcome == Ended.SUCCESS
        cut_short = midstream or facts.finish_reason == "length" or facts.output_empty
        value = 1.0 if served and not cut_short else 0.0
        ledger.observe(route, attempt.endpoint, value)
        metrics.explore_observations.labels(route, attempt.endpoint).inc()
        metrics.explore_quality.labels(route, attempt.endpoint).inc(value)
        if served:
            quality = value
    return quality


def is_variant_failure(verdict: Verdict | None, status: int) -> bool | None:
    """Did the variant fail this request (True), serve it (False), or is it not the variant's doing (None:
    the caller's mistake, a request no endpoint could serve, the sidecar's own shedding or budget)?"""
    if isinstance(verdict, ServedJson | ServedStream):
        return status >= 500
    if isinstance(verdict, Degrade | DeadlineExceeded | UpstreamError):
        return True
    return None


def _line(exchange: Exchange, status: int, endpoint: str, facts: Facts, duration: float) -> dict[str, Any]:
    plan, verdict = exchange.plan, exchange.verdict
    records = verdict.trail.records if verdict is not None else ()
    return {
        "ts": round(time.time(), 3),
        "request_id": exchange.request_id,
        "method": exchange.request.method,
        "path": exchange.request.path,
        "status": status,
        "route": plan.route.name if plan else "none",
        "variant": plan.variant.name if plan else "none",
        "priority": plan.priority if plan else None,
        "endpoint": endpoint,
        "attempts": verdict.trail.sent if verdict is not None else 0,
        "outcomes": [f"{r.endpoint}:{r.outcome}" for r in records],
        "duration_ms": round(duration * 1000, 2),
        "ttft_ms": round(facts.ttft_seconds * 1000, 2) if facts.ttft_seconds is not None else None,
        "prompt_tokens": facts.usage.prompt_tokens,
        "completion_tokens": facts.usage.completion_tokens,
        "cost_usd": round(facts.cost_usd, 8),
        "usage_estimated": facts.estimated,
        "affinity": (plan.affinity if plan else "") or None,
        "fallback_reason": (verdict.trail.fallback_reason if verdict is not None else "") or None,
        "degraded": isinstance(verdict, Degrade) and verdict.static,
        "stream": exchange.stream,
    }
