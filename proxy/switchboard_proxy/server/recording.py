"""Record a finished exchange: metrics, the JSON access-log line, the feedback ring, guardrails.

Called exactly once per model call, whatever happened (served, degraded, refused, client gone). The log
line carries ids, names, numbers and reasons, never a header value or body, so no key can reach it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from ..accounting import metrics
from ..accounting.feedback import Served
from .exchange import Exchange
from .state import ACCESS_LOG, GUARDRAILS, RECENT


def record(exchange: Exchange) -> None:
    """Account for one exchange (idempotent per exchange is not needed: the caller calls it once)."""
    status = exchange.status or 499  # cancelled before any answer: the client went away
    plan = exchange.plan
    route = plan.route.name if plan else "none"
    variant = plan.variant.name if plan else "none"
    endpoint = exchange.endpoint
    duration = (exchange.finished or asyncio.get_running_loop().time()) - exchange.started
    metrics.labelled(metrics.REQUESTS, route, variant, endpoint, str(status)).inc()
    if plan is not None:
        metrics.labelled(metrics.REQUEST_DURATION, route, variant).observe(duration)
        _record_attempts(exchange, route)
        _record_served(exchange, route, variant)
        _remember(exchange, route, variant, status)
    writer = exchange.request.app.get(ACCESS_LOG)
    if writer is not None:
        writer.write(_line(exchange, status, route, variant, duration))


def _record_attempts(exchange: Exchange, route: str) -> None:
    outcome = exchange.outcome
    if outcome is None:
        return
    for attempt in outcome.records:
        metrics.labelled(metrics.ATTEMPTS, route, attempt.endpoint, attempt.outcome).inc()
        if attempt.seconds and not attempt.outcome.startswith("skipped"):
            metrics.labelled(metrics.UPSTREAM_DURATION, attempt.endpoint).observe(attempt.seconds)
    if exchange.fallback_reason and exchange.endpoint != "none" and exchange.plan and exchange.plan.attempts:
        metrics.labelled(
            metrics.FALLBACKS,
            route,
            exchange.plan.attempts[0].endpoint,
            exchange.endpoint,
            exchange.fallback_reason,
        ).inc()


def _record_served(exchange: Exchange, route: str, variant: str) -> None:
    endpoint = exchange.endpoint
    if exchange.degraded:
        metrics.labelled(metrics.DEGRADED, route, variant, exchange.fallback_reason or "unknown").inc()
    if endpoint == "none":
        return
    usage = exchange.usage
    for kind, count in (
        ("prompt", usage.prompt_tokens),
        ("completion", usage.completion_tokens),
        ("cached", usage.cached_tokens),
    ):
        if count:
            metrics.labelled(metrics.TOKENS, route, endpoint, kind).inc(count)
    if exchange.cost_usd:
        metrics.labelled(metrics.COST, route, variant, endpoint).inc(exchange.cost_usd)
        spend = exchange.table.spend.get(route)
        if spend is not None:
            spend.add(exchange.cost_usd)
    if exchange.ttft_seconds is not None:
        metrics.labelled(metrics.TTFT, route, endpoint).observe(exchange.ttft_seconds)
    if exchange.finish_reason:
        metrics.labelled(metrics.FINISHES, route, endpoint, exchange.finish_reason).inc()
    if exchange.output_empty and exchange.api != "embeddings" and not exchange.client_gone:
        metrics.labelled(metrics.EMPTY_OUTPUTS, route, endpoint).inc()


def _remember(exchange: Exchange, route: str, variant: str, status: int) -> None:
    app = exchange.request.app
    if exchange.endpoint != "none":
        app[RECENT].remember(exchange.request_id, Served(route, variant, exchange.endpoint))
    if exchange.client_gone or status == 499:
        return  # a client that left says nothing about the variant's quality
    failed = exchange.degraded or status >= 500
    plan = exchange.plan
    assert plan is not None
    if app[GUARDRAILS].observe(route, variant, failed=failed, experiment=plan.route.experiment):
        exchange.table.stopped_variants.add((route, variant))
        metrics.labelled(metrics.VARIANT_STOPPED, route, variant).set(1)
        logging.getLogger("switchboard.proxy").warning(
            "guardrails stopped variant %s of route %s (error rate over %.3f)",
            variant,
            route,
            plan.route.experiment.max_error_rate if plan.route.experiment else 0.0,
        )


def _line(exchange: Exchange, status: int, route: str, variant: str, duration: float) -> dict[str, Any]:
    outcome = exchange.outcome
    line = {
        "ts": round(time.time(), 3),
        "request_id": exchange.request_id,
        "method": exchange.request.method,
        "path": exchange.request.path,
        "status": status,
        "route": route,
        "variant": variant,
        "priority": exchange.plan.priority if exchange.plan else None,
        "endpoint": exchange.endpoint,
        "attempts": outcome.sent if outcome else 0,
        "outcomes": [f"{r.endpoint}:{r.outcome}" for r in outcome.records] if outcome else [],
        "duration_ms": round(duration * 1000, 2),
        "ttft_ms": round(exchange.ttft_seconds * 1000, 2) if exchange.ttft_seconds is not None else None,
        "prompt_tokens": exchange.usage.prompt_tokens,
        "completion_tokens": exchange.usage.completion_tokens,
        "cost_usd": round(exchange.cost_usd, 8),
        "fallback_reason": exchange.fallback_reason or None,
        "degraded": exchange.degraded,
        "stream": bool(exchange.call and exchange.call.stream),
    }
    return line
