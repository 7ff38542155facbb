"""Every `switchboard_*` metric, declared once, and the helpers that record them.

The families updated on every request are `families.CounterFamily` / `HistogramFamily` (cheap, exported
at scrape time); the rest are prometheus_client objects.

Labels come only from config values (route, variant, endpoint names) and closed sets (codes, outcomes,
reasons), never from the request, so cardinality is bounded by the config. Gauges that mirror live
state (circuits, in-flight) are read from the current RoutingTable at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from .families import Families

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

# Per-request families: plain numbers exported at scrape time (see families.py), same exposition.
PER_REQUEST = Families()
REGISTRY.register(PER_REQUEST)

REQUESTS = PER_REQUEST.counter(
    "switchboard_requests_total",
    "Client requests by route, variant, serving endpoint and HTTP status.",
    ["route", "variant", "endpoint", "code"],
)
REQUEST_DURATION = PER_REQUEST.histogram(
    "switchboard_request_duration_seconds",
    "Client-observed request duration.",
    ["route", "variant"],
    buckets=LATENCY_BUCKETS,
)
UPSTREAM_DURATION = PER_REQUEST.histogram(
    "switchboard_upstream_duration_seconds",
    "Duration of each upstream attempt.",
    ["endpoint"],
    buckets=LATENCY_BUCKETS,
)
TTFT = PER_REQUEST.histogram(
    "switchboard_time_to_first_token_seconds",
    "Time to the first streamed event.",
    ["route", "endpoint"],
    buckets=LATENCY_BUCKETS,
)
ATTEMPTS = PER_REQUEST.counter(
    "switchboard_attempts_total",
    "Upstream attempts by outcome (success, a trigger, skipped:<why>).",
    ["route", "endpoint", "outcome"],
)
FALLBACKS = PER_REQUEST.counter(
    "switchboard_fallbacks_total",
    "Requests served by another endpoint than the first choice.",
    ["route", "from_endpoint", "to_endpoint", "reason"],
)
TOKENS = PER_REQUEST.counter(
    "switchboard_tokens_total",
    "Tokens reported by upstreams (kind: prompt, completion, cached).",
    ["route", "endpoint", "kind"],
)
COST = PER_REQUEST.counter(
    "switchboard_cost_usd_total",
    "Cost in USD from upstream usage and endpoint pricing.",
    ["route", "variant", "endpoint"],
)
SHED = PER_REQUEST.counter(
    "switchboard_shed_total",
    "Requests refused by the sidecar's own load or budget protection.",
    ["route", "priority", "reason"],
)
DEGRADED = PER_REQUEST.counter(
    "switchboard_degraded_total",
    "Degraded responses (every attempt failed or the deadline ran out).",
    ["route", "variant", "reason"],
)
FINISHES = PER_REQUEST.counter(
    "switchboard_finish_total",
    "Served generations by finish reason (length = truncated).",
    ["route", "endpoint", "reason"],
)
EMPTY_OUTPUTS = PER_REQUEST.counter(
    "switchboard_empty_outputs_total", "Served generations with no output text.", ["route", "endpoint"]
)
SHADOWS = PER_REQUEST.counter(
    "switchboard_shadow_requests_total", "Mirrored requests by outcome.", ["route", "endpoint", "outcome"]
)
FEEDBACK = PER_REQUEST.histogram(
    "switchboard_feedback_score",
    "Quality feedback scores (0..1) from POST /v1/feedback.",
    ["route", "variant", "endpoint"],
    buckets=SCORE_BUCKETS,
)
# Rare events: prometheus_client's own objects.
CONFIG_RELOADS = Counter(
    "switchboard_config_reloads_total", "Config loads by result (applied, unchanged, error).", ["result"]
)
CONFIG_INFO = Gauge(
    "switchboard_config_info", "Version of the config this sidecar serves (value 1).", ["version"]
)
CONFIG_ERROR = Gauge(
    "switchboard_config_last_reload_failed", "1 when the newest config was refused; the last good serves."
)
VARIANT_STOPPED = Gauge(
    "switchboard_variant_stopped", "1 when guardrails stopped an experiment variant.", ["route", "variant"]
)


class LiveStateCollector(Collector):
    """Circuit and in-flight gauges read from the live table when Prometheus scrapes."""

    def __init__(self) -> None:
        self.source: Callable[[], Any] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        circuit = GaugeMetricFamily(
            "switchboard_circuit_open",
            "1 when the endpoint's circuit is open or half-open.",
            labels=["endpoint"],
        )
        inflight = GaugeMetricFamily(
            "switchboard_inflight", "Requests in flight to the endpoint.", labels=["endpoint"]
        )
        table = self.source() if self.source else None
        for name, endpoint in table.endpoints.items() if table is not None else ():
            circuit.add_metric([name], 0.0 if endpoint.breaker.state == "closed" else 1.0)
            inflight.add_metric([name], float(endpoint.concurrency.inflight))
        yield circuit
        yield inflight


LIVE_STATE = LiveStateCollector()
REGISTRY.register(LIVE_STATE)


def labelled(metric: Any, *labels: str) -> Any:
    """`metric.labels(*labels)`: the child of one label set (a dict lookup for the per-request families)."""
    return metric.labels(*labels)


def set_config_version(version: str) -> None:
    """Exactly one config_info series: the version served now."""
    CONFIG_INFO.clear()
    CONFIG_INFO.labels(version=version).set(1)
