"""What the operator reads from Prometheus per route and variant, as PromQL and as plain numbers (pure).

The sidecars' metrics (SPEC section 7) carry `route` and `variant` labels, and the Prometheus scraping
them adds `namespace` and `pod`. Every figure is an `increase()` over the window the caller asks for
(the age of the experiment), so a user's edit that starts an experiment afresh starts its figures
afresh too, and pods that come and go are counted for the time they served.
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


def _increase(metric: str, namespace: str, window: int, by: str, extra: str = "") -> str:
    selector = f'namespace="{namespace}"' + (f",{extra}" if extra else "")
    return f"sum by ({by}) (increase({metric}{{{selector}}}[{window}s]))"


def variant_queries(namespace: str, window_seconds: int) -> dict[str, str]:
    """The PromQL expressions, by the VariantData field each one fills."""
    window = max(int(window_seconds), 60)
    by = "route, variant"
    return {
        "requests": _increase("switchboard_requests_total", namespace, window, by),
        "errors": _increase("switchboard_requests_total", namespace, window, by, 'code=~"5.."'),
        "fallbacks": _increase("switchboard_fallbacks_total", namespace, window, by),
        "degraded": _increase("switchboard_degraded_total", namespace, window, by),
        "finishes": _increase("switchboard_finish_total", namespace, window, by),
        "truncated": _increase("switchboard_finish_total", namespace, window, by, 'reason="length"'),
        "cost_usd": _increase("switchboard_cost_usd_total", namespace, window, by),
        "latency": _increase("switchboard_request_duration_seconds_bucket", namespace, window, by + ", le"),
        "ttft": _increase("switchboard_time_to_first_token_seconds_bucket", namespace, window, by + ", le"),
        "feedback": _increase("switchboard_feedback_score_bucket", namespace, window, by + ", le"),
    }


def collect(results: Mapping[str, Vector]) -> dict[tuple[str, str], VariantData]:
    """(route, variant) -> VariantData from the answers to `variant_queries`."""
    data: dict[tuple[str, str], VariantData] = {}
    buckets: dict[tuple[str, str, str], dict[float, float]] = {}
    for name, vector in results.items():
        for labels, value in vector:
            key = (labels.get("route", ""), labels.get("variant", ""))
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


def endpoint_queries(namespace: str, endpoint: str, window_seconds: int) -> dict[str, str]:
    """PromQL for one endpoint's own figures (a migration's replacement), served and shadowed alike."""
    window = max(int(window_seconds), 60)
    where = f'namespace="{namespace}",endpoint="{endpoint}"'

    def total(metric: str, outcomes: str, shadow_outcomes: str) -> str:
        served = f'sum(increase(switchboard_attempts_total{{{where},outcome!~"{outcomes}"}}[{window}s]))'
        shadowed = (
            f'sum(increase(switchboard_shadow_requests_total{{{where},outcome!~"{shadow_outcomes}"}}'
            f"[{window}s]))"
        )
        return f"({served} or vector(0)) + ({shadowed} or vector(0))"

    return {
        "requests": total("attempts", _NOT_SENT, _SHADOW_NOT_SENT),
        "errors": total("attempts", f"success|{_NOT_SENT}", f"success|{_SHADOW_NOT_SENT}"),
        "cost_usd": f"sum(increase(switchboard_cost_usd_total{{{where}}}[{window}s]))",
        "latency": _by_le("switchboard_upstream_duration_seconds_bucket", where, window),
        "feedback": _by_le("switchboard_feedback_score_bucket", where, window),
    }


def _by_le(metric: str, where: str, window: int) -> str:
    return f"sum by (le) (increase({metric}{{{where}}}[{window}s]))"


def collect_endpoint(results: Mapping[str, Vector]) -> VariantData:
    """One endpoint's VariantData from the answers to `endpoint_queries`."""
    labelled: dict[str, Vector] = {
        name: [({**labels, "route": "-", "variant": "-"}, value) for labels, value in vector]
        for name, vector in results.items()
    }
    return collect(labelled).get(("-", "-"), VariantData())
