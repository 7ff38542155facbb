"""Operations endpoints: health, readiness, metrics, the served config, endpoint state, feedback."""

from __future__ import annotations

import time
from typing import Any

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from ..execution.leasing import Gate
from ..execution.runtime import RoutingTable
from .errors import BadRequest, NotFound
from .state import CONFIG, METRICS, RECENT


def _json(document: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps(document, option=orjson.OPT_INDENT_2),
        content_type="application/json",
    )


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and serving HTTP."""
    return _json({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when a config is loaded and the sidecar is not draining."""
    holder = request.app[CONFIG]
    if holder.draining:
        return _json({"status": "draining"}, status=503)
    if holder.table is None:
        return _json({"status": "no config", "last_error": holder.last_error}, status=503)
    return _json({"status": "ready", "version": holder.table.config.version})


async def prometheus(request: web.Request) -> web.Response:
    return web.Response(body=request.app[METRICS].exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def config_status(request: web.Request) -> web.Response:
    """Which config is served, from where, since when, and what the last reload said."""
    holder = request.app[CONFIG]
    table = holder.table
    return _json(
        {
            "version": table.config.version if table else None,
            "namespace": table.config.namespace if table else None,
            "source": table.source if table else holder.source,
            "loaded_at": _iso(table.loaded_at) if table else None,
            "routes": sorted(table.config.routes) if table else [],
            "reloads": {"applied": holder.applied, "refused": holder.refused},
            "budgets": _budgets(table) if table else {},
            "last_error": holder.last_error or None,
            "last_error_at": _iso(holder.last_error_at) if holder.last_error_at else None,
        }
    )


def _budgets(table: RoutingTable) -> dict[str, Any]:
    """Spend of each route with a budget in its current window (the fleet's, when shared)."""
    return {
        name: {
            "spent_usd": round(account.spent_usd, 8),
            "remaining_usd": round(account.remaining_usd, 8),
            "usd": account.budget.usd,
            "window_seconds": account.budget.window_seconds,
            "action": account.budget.action,
            "exhausted": account.is_spent,
            "shared": account.fleet is not None and account.fleet.is_up,
        }
        for name, account in sorted(table.budgets.items())
    }


async def endpoints_status(request: web.Request) -> web.Response:
    """Live state of every endpoint: circuit, in flight, latency estimates, limits, lifecycle."""
    table = request.app[CONFIG].table
    if table is None:
        return _json({"endpoints": {}})
    document = {}
    for name, endpoint in table.endpoints.items():
        config = endpoint.config
        document[name] = {
            "provider": config.provider,
            "model": config.model,
            "url": config.url,
            "circuit": endpoint.gate.breaker.state,
            "inflight": endpoint.gate.inflight,
            "latency_ms": round(endpoint.latency_ms.value, 2),
            "ttft_ms": round(endpoint.ttft_ms.value, 2),
            "limits": {
                "max_concurrency": config.max_concurrency,
                "requests_per_minute": config.requests_per_minute,
                "tokens_per_minute": config.tokens_per_minute,
            },
            "admission": _admission(endpoint.gate),
            "limited": endpoint.gate.limited(),
            "key": "set" if endpoint.key else ("missing" if config.api_key.source != "none" else "none"),
            "deprecated": config.deprecated,
            "sunset": config.sunset.isoformat() if config.sunset else None,
            "replacement": config.replacement or None,
        }
    return _json({"version": table.config.version, "endpoints": document})


def _admission(gate: Gate) -> dict[str, Any]:
    """The gate's live state: the limit in force, what it learnt, who waits, what the buckets hold."""
    slots = gate.slots
    adaptive = slots.adaptive
    return {
        "concurrency_limit": slots.limit,
        "adaptive": adaptive is not None,
        "no_load_latency_ms": round(adaptive.no_load_seconds * 1000, 2) if adaptive is not None else None,
        "first_byte_ms": round(slots.first_byte_seconds * 1000, 2),
        "hold_ms": round(slots.hold_seconds * 1000, 2),
        "queue": {
            "capacity": slots.queue.capacity,
            "depth": {priority: slots.depth(priority) for priority in slots.waits},
        },
        "rate_tokens_available": {
            kind: round(bucket.available, 2)
            for kind, bucket in (("requests", gate.requests), ("tokens", gate.tokens))
            if bucket.rate_per_minute
        },
        "shared": gate.fleet is not None and gate.fleet.is_up,
    }


async def feedback(request: web.Request) -> web.Response:
    """POST {"request_id", "score": 0..1}: a quality score for a recent request."""
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        raise BadRequest("request body is not valid JSON", code="invalid_json") from None
    if not isinstance(body, dict) or not isinstance(body.get("request_id"), str):
        raise BadRequest("'request_id' (string) is required", code="invalid_type", param="request_id")
    score = body.get("score")
    if isinstance(score, bool) or not isinstance(score, int | float) or not 0 <= score <= 1:
        raise BadRequest("'score' must be a number from 0 to 1", code="invalid_value", param="score")
    served = request.app[RECENT].lookup(body["request_id"])
    if served is None:
        raise NotFound(
            f"no recent request with id '{body['request_id']}'", code="unknown_request_id", param="request_id"
        )
    metrics = request.app[METRICS]
    metrics.feedback.labels(served.route, served.variant, served.endpoint).observe(float(score))
    table = request.app[CONFIG].table
    if served.quality is not None and table is not None:
        # An explore route counted a quality when the request ended; the caller's score replaces it.
        table.explore.amend(served.route, served.endpoint, counted=served.quality, score=float(score))
        metrics.explore_quality.labels(served.route, served.endpoint).inc(float(score))
        metrics.explore_replaced.labels(served.route, served.endpoint).inc(served.quality)
        request.app[RECENT].remember(body["request_id"], served._replace(quality=float(score)))
    return _json(
        {
            "request_id": body["request_id"],
            "route": served.route,
            "variant": served.variant,
            "endpoint": served.endpoint,
            "score": score,
        }
    )


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
