"""What the operator reads from Prometheus per route and variant, as PromQL and as plain numbers (pure).

The sidecars' metrics (SPEC section 7) carry `route` and `variant` labels, and the Prometheus scraping
them adds `namespace` and `pod`. Every figure counts from a moment the caller names (when the operator
began judging the experiment, or the migration's step began): `metric - metric @ start` for series that
existed then, `or metric` for series born since, whose whole count is new. (`increase()` over a window
would lose what a new series counted before its first scrape: a new variant's first seconds.) So a
user's edit that starts an experiment afresh starts its figures afresh, and pods that start later count
in full; a pod that went away takes its counts with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

Labels = Mapping[str, str]
Vector = list[tuple[Labels, float]]


class Histogram(NamedTuple):
    """Cumulative bucket counts by upper bound (+Inf last)."""

    bounds: tuple[float, ...] = ()
    cumulative: tuple[float, ...] = ()


@dataclass
class VariantData:
    """One variant's fleet-wide counts over the window."""

    requests: float = 0.0
    errors: float = 0.0
    fallbacks: float = 0.0
    degraded: float = 0.0
    finishes: float = 0.0
    truncated: float = 0.0
    cost_usd: float = 0.0
    latency: Histogram = field(default_factory=Histogram)
    ttft: Histogram = field(default_factory=Histogram)
    feedback: Histogram = field(default_factory=Histogram)


def _since(metric: str, selector: str, start: float, by: str) -> str:
    series = f"{metric}{{{selector}}}"
    return f"sum by ({by}) (clamp_min({series} - {series} @ {start:.3f}, 0) or {series})"


def variant_queries(namespace: str, start: float) -> dict[str, str]:
    """The PromQL expressions, by the VariantData field each one fills; counts since `start` (epoch s)."""
    where = f'namespace="{namespace}"'
    by, by_le = "route, variant", "route, variant, le"
    return {
        "requests": _since("switchboard_requests_total", where, start, by),
        "errors": _since("switchboard_requests_total", where + ',code=~"5.."', start, by),
        "fallbacks": _since("switchboard_fallbacks_total", where, start, by),
        "degraded": _since("switchboard_degraded_total", where, start, by),
        "finishes": _since("switchboard_finish_total", where, start, by),
        "truncated": _since("switchboard_finish_total", where + ',reason="length"', start, by),
        "cost_usd": _since("switchboard_cost_usd_total", where, start, by),
        "latency": _since("switchboard_request_duration_seconds_bucket", where, start, by_le),
        "ttft": _since("switchboard_time_to_first_token_seconds_bucket", where, start, by_le),
        "feedback": _since("switchboard_feedback_score_bucket", where, start, by_le),
    }


def collect(
    results: Mapping[str, Vector], *, by: tuple[str, str] = ("route", "variant")
) -> dict[tuple[str, str], VariantData]:
    """(route, variant) -> VariantData from the answers to `variant_queries` (or other labels, `by`)."""
    data: dict[tuple[str, str], VariantData] = {}
    buckets: dict[tuple[str, str, str], dict[float, float]] = {}
    for name, vector in results.items():
        for labels, value in vector:
            key = (labels.get(by[0], ""), labels.get(by[1], ""))
            if not all(key) or not math.isfinite(value):
                continue
            entry = data.setdefault(key, VariantData())
            if "le" in labels:
                bound = float(labels["le"])  # "+Inf" parses as inf
                buckets.setdefault((*key, name), {})[bound] = value
            else:
                setattr(entry, name, getattr(entry, name) + value)
    for (route, variant, name), by_bound in buckets.items():
        bounds = tuple(sorted(by_bound))
        setattr(data[(route, variant)], name, Histogram(bounds, tuple(by_bound[b] for b in bounds)))
    return data


def pods_by_version(vector: Iterable[tuple[Labels, float]]) -> dict[str, str]:
    """pod -> the config version it serves, from `switchboard_config_info{namespace=...}`."""
    return {labels["pod"]: labels.get("version", "") for labels, value in vector if value and "pod" in labels}


def config_info_query(namespace: str) -> str:
    return f'max by (pod, version) (switchboard_config_info{{namespace="{namespace}"}})'


_NOT_SENT = "skipped:.*|cancelled|hedge-lost"
_SHADOW_NOT_SENT = "skipped|dropped|unservable"


def endpoint_queries(namespace: str, endpoint: str, start: float) -> dict[str, str]:
    """PromQL for one endpoint's own figures since `start` (a migration's replacement, served and
    shadowed alike): attempts sent, those that failed, its upstream latency, feedback and cost."""
    where = f'namespace="{namespace}",endpoint="{endpoint}"'

    def total(outcomes: str, shadow_outcomes: str) -> str:
        served = _since("switchboard_attempts_total", f'{where},outcome!~"{outcomes}"', start, "namespace")
        shadowed = _since(
            "switchboard_shadow_requests_total", f'{where},outcome!~"{shadow_outcomes}"', start, "namespace"
        )
        return f"({served} or vector(0)) + ({shadowed} or vector(0))"

    return {
        "requests": total(_NOT_SENT, _SHADOW_NOT_SENT),
        "errors": total(f"success|{_NOT_SENT}", f"success|{_SHADOW_NOT_SENT}"),
        "cost_usd": _since("switchboard_cost_usd_total", where, start, "namespace"),
        "latency": _since("switchboard_upstream_duration_seconds_bucket", where, start, "le"),
        "feedback": _since("switchboard_feedback_score_bucket", where, start, "le"),
    }


def collect_endpoint(results: Mapping[str, Vector]) -> VariantData:
    """One endpoint's VariantData from the answers to `endpoint_queries`."""
    labelled: dict[str, Vector] = {
        name: [({**labels, "route": "-", "variant": "-"}, value) for labels, value in vector]
        for name, vector in results.items()
    }
    return collect(labelled).get(("-", "-"), VariantData())


def endpoint_breakdown_queries(namespace: str, route: str, start: float) -> dict[str, str]:
    """PromQL for a route's figures per serving endpoint since `start` (for `switchboard report`)."""
    where = f'namespace="{namespace}",route="{route}",endpoint!="none"'
    by, by_le = "route, endpoint", "route, endpoint, le"
    failed = f'{where},outcome!~"success|{_NOT_SENT}"'
    return {
        "requests": _since("switchboard_attempts_total", f'{where},outcome!~"{_NOT_SENT}"', start, by),
        "errors": _since("switchboard_attempts_total", failed, start, by),
        "finishes": _since("switchboard_finish_total", where, start, by),
        "truncated": _since("switchboard_finish_total", where + ',reason="length"', start, by),
        "cost_usd": _since("switchboard_cost_usd_total", where, start, by),
        "ttft": _since("switchboard_time_to_first_token_seconds_bucket", where, start, by_le),
        "feedback": _since("switchboard_feedback_score_bucket", where, start, by_le),
    }


def variant_trend_queries(namespace: str, route: str) -> dict[str, str]:
    """Per-variant PromQL over time (for range queries): error rate, p95 latency, cost per minute."""
    where = f'namespace="{namespace}",route="{route}"'
    requests = f"sum by (variant) (rate(switchboard_requests_total{{{where}}}[1m]))"
    errors = f'sum by (variant) (rate(switchboard_requests_total{{{where},code=~"5.."}}[1m]))'
    buckets = f"sum by (variant, le) (rate(switchboard_request_duration_seconds_bucket{{{where}}}[1m]))"
    return {
        "error rate": f"({errors} or {requests} * 0) / {requests}",
        "p95 latency (s)": f"histogram_quantile(0.95, {buckets})",
        "cost per minute (USD)": f"60 * sum by (variant) (rate(switchboard_cost_usd_total{{{where}}}[1m]))",
    }
