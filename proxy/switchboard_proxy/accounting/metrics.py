"""Every `switchboard_*` metric, declared once, in one `Metrics` object per app with its own registry.

The families updated on every request are `families.CounterFamily` / `HistogramFamily` (cheap, exported
at scrape time); rare events use prometheus_client's own objects. Nothing here is module state: two apps
in one process (tests, a benchmark) have two registries and never share a counter.

Labels come only from config values (route, variant, endpoint names) and closed sets (codes, outcomes,
reasons), never from the request, so cardinality is bounded by the config. Gauges that mirror live
state (circuits, in-flight) are read from the current RoutingTable at scrape time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from .families import CounterChild, Families

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
TOKEN_KINDS = ("prompt", "completion", "cached", "cache_write")  # the order of Usage's fields
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


class LiveStateCollector(Collector):
    """Gauges of live state (circuits, in flight, limits, queues, buckets, budgets, the shared state)
    read from the live table when Prometheus scrapes; the queues' wait histograms too."""

    def __init__(self) -> None:
        self.source: Callable[[], Any] = lambda: None  # the current RoutingTable, or None
        self.fleet: Any = None  # the shared state (execution.fleet.Fleet), when --state is set

    def collect(self) -> Iterator[Metric]:
        table = self.source()
        endpoints = table.endpoints.items() if table is not None else ()
        yield from self._endpoint_gauges(endpoints)
        yield from self._queue_families(endpoints)
        yield from self._budget_gauges(table.budgets.items() if table is not None else ())
        up = GaugeMetricFamily(
            "switchboard_state_backend_up",
            "1 while the shared state (--state) answers; 0 while each sidecar enforces its own share "
            "(always 1 without --state: there is nothing to be away).",
        )
        up.add_metric([], 1.0 if self.fleet is None or self.fleet.is_up else 0.0)
        yield up

    def _endpoint_gauges(self, endpoints: Iterable[tuple[str, Any]]) -> Iterator[Metric]:
        circuit = GaugeMetricFamily(
            "switchboard_circuit_open",
            "1 when the endpoint's circuit is open or half-open.",
            labels=["endpoint"],
        )
        inflight = GaugeMetricFamily(
            "switchboard_inflight", "Requests in flight to the endpoint.", labels=["endpoint"]
        )
        limit = GaugeMetricFamily(
            "switchboard_concurrency_limit",
            "Concurrency limit in force (adaptive, at most maxConcurrency; 0 = unlimited).",
            labels=["endpoint"],
        )
        tokens = GaugeMetricFamily(
            "switchboard_rate_tokens_available",
            "Tokens left in the endpoint's rate buckets (kind: requests, tokens); shared ones as last seen.",
            labels=["endpoint", "kind"],
        )
        for name, endpoint in endpoints:
            gate = endpoint.gate
            circuit.add_metric([name], 0.0 if gate.breaker.state == "closed" else 1.0)
            inflight.add_metric([name], float(gate.inflight))
            limit.add_metric([name], float(gate.slots.limit))
            for kind, bucket in (("requests", gate.requests), ("tokens", gate.tokens)):
                if bucket.rate_per_minute:
                    tokens.add_metric([name, kind], max(0.0, float(bucket.available)))
        yield from (circuit, inflight, limit, tokens)

    def _queue_families(self, endpoints: Iterable[tuple[str, Any]]) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "switchboard_queue_depth",
            "Attempts waiting for one of the endpoint's slots, by priority.",
            labels=["endpoint", "priority"],
        )
        wait = HistogramMetricFamily(
            "switchboard_queue_wait_seconds",
            "Time attempts waited for a slot before they got it, by priority.",
            labels=["endpoint", "priority"],
        )
        for name, endpoint in endpoints:
            slots = endpoint.gate.slots
            if not slots.queue.capacity:
                continue
            for priority, child in slots.waits.items():
                depth.add_metric([name, priority], float(slots.depth(priority)))
                wait.add_metric([name, priority], child.cumulative(), child.sum)
        yield from (depth, wait)

    def _budget_gauges(self, budgets: Iterable[tuple[str, Any]]) -> Iterator[Metric]:
        spent = GaugeMetricFamily(
            "switchboard_budget_spent_usd",
            "USD the route spent in its budget's current window (the fleet's, when shared).",
            labels=["route"],
        )
        remaining = GaugeMetricFamily(
            "switchboard_budget_remaining_usd",
            "USD the route may still reserve in the current window (budget - spent - reserved).",
            labels=["route"],
        )
        for name, account in budgets:
            spent.add_metric([name], account.spent_usd)
            remaining.add_metric([name], account.remaining_usd)
        yield from (spent, remaining)


class CachedShareCollector(Collector):
    """`switchboard_cached_token_share{endpoint}`: cached prompt tokens / prompt tokens, over every route,
    worked out from the token counters when Prometheus scrapes (how well affinity keeps prompt caches)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        share = GaugeMetricFamily(
            "switchboard_cached_token_share",
            "Share of the endpoint's prompt tokens read from its prompt cache (0..1).",
            labels=["endpoint"],
        )
        totals: dict[str, list[float]] = {}
        for (_, endpoint, kind), child in self.metrics.tokens.children():
            if kind in ("prompt", "cached"):
                totals.setdefault(endpoint, [0.0, 0.0])[kind == "cached"] += child.value
        for endpoint, (prompt, cached) in sorted(totals.items()):
            if prompt:
                share.add_metric([endpoint], cached / prompt)
        yield share


class Series:
    """The children that requests of one (route, variant, endpoint) update, each looked up once: a request
    then pays an attribute read per update instead of building a label tuple and hashing it."""

    __slots__ = (
        "cost",
        "duration",
        "estimated",
        "finishes",
        "labels",
        "metrics",
        "requests",
        "success",
        "tokens",
        "ttft",
        "upstream",
    )

    def __init__(self, metrics: Metrics, route: str, variant: str, endpoint: str) -> None:
        self.metrics = metrics
        self.duration = metrics.request_duration.labels(route, variant)
        self.success = metrics.attempts.labels(route, endpoint, "success")
        self.upstream = metrics.upstream_duration.labels(endpoint)
        self.tokens = tuple(metrics.tokens.labels(route, endpoint, kind) for kind in TOKEN_KINDS)
        self.estimated = tuple(
            metrics.tokens_estimated.labels(route, endpoint, kind) for kind in TOKEN_KINDS[:2]
        )
        self.cost = metrics.cost.labels(route, variant, endpoint)
        self.ttft = metrics.ttft.labels(route, variant, endpoint)
        self.requests: dict[int, CounterChild] = {}  # by status code, filled as codes occur
        self.finishes: dict[str, CounterChild] = {}  # by finish reason
        self.labels = (route, variant, endpoint)

    def request(self, status: int) -> CounterChild:
        child = self.requests.get(status)
        if child is None:
            child = self.requests[status] = self.metrics.requests.labels(*self.labels, str(status))
        return child

    def finish(self, reason: str) -> CounterChild:
        child = self.finishes.get(reason)
        if child is None:
            child = self.finishes[reason] = self.metrics.finishes.labels(*self.labels, reason)
        return child


class Metrics:
    """The metrics of one sidecar app (see the module docstring)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        # Series by (route, variant, endpoint): bounded by the config's names, like every label here.
        self._series: dict[tuple[str, str, str], Series] = {}
        per_request = Families()
        self.registry.register(per_request)
        self._declare_traffic(per_request)
        self._declare_quality(per_request)
        self._declare_config()
        self.live = LiveStateCollector()
        self.registry.register(self.live)
        self.registry.register(CachedShareCollector(self))

    def _declare_traffic(self, per_request: Families) -> None:
        self.requests = per_request.counter(
            "switchboard_requests_total",
            "Client requests by route, variant, serving endpoint and HTTP status.",
            ["route", "variant", "endpoint", "code"],
        )
        self.request_duration = per_request.histogram(
            "switchboard_request_duration_seconds",
            "Client-observed request duration.",
            ["route", "variant"],
            buckets=LATENCY_BUCKETS,
        )
        self.upstream_duration = per_request.histogram(
            "switchboard_upstream_duration_seconds",
            "Duration of each upstream attempt.",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
        )
        self.ttft = per_request.histogram(
            "switchboard_time_to_first_token_seconds",
            "Time to the first streamed event.",
            ["route", "variant", "endpoint"],
            buckets=LATENCY_BUCKETS,
        )
        self.attempts = per_request.counter(
            "switchboard_attempts_total",
            "Upstream attempts by outcome (success, a trigger, skipped:<why>).",
            ["route", "endpoint", "outcome"],
        )
        self.fallbacks = per_request.counter(
            "switchboard_fallbacks_total",
            "Requests served by another endpoint than the first choice.",
            ["route", "variant", "from_endpoint", "to_endpoint", "reason"],
        )
        self.tokens = per_request.counter(
            "switchboard_tokens_total",
            "Tokens reported by upstreams, or estimated when they report none (kind: prompt, completion, "
            "cached, cache_write).",
            ["route", "endpoint", "kind"],
        )
        self.tokens_estimated = per_request.counter(
            "switchboard_tokens_estimated_total",
            "Tokens the sidecar counted because the upstream reported none (kind: prompt, completion).",
            ["route", "endpoint", "kind"],
        )
        self.affinity = per_request.counter(
            "switchboard_affinity_total",
            "Requests of routes with session affinity: hit (the session's endpoint was eligible) or moved.",
            ["route", "result"],
        )
        self.cost = per_request.counter(
            "switchboard_cost_usd_total",
            "Cost in USD from upstream usage and endpoint pricing.",
            ["route", "variant", "endpoint"],
        )
        self.shed = per_request.counter(
            "switchboard_shed_total",
            "Requests refused by the sidecar's own load or budget protection.",
            ["route", "priority", "reason"],
        )

    def _declare_quality(self, per_request: Families) -> None:
        self.degraded = per_request.counter(
            "switchboard_degraded_total",
            "Degraded responses (every attempt failed or the deadline ran out).",
            ["route", "variant", "reason"],
        )
        self.finishes = per_request.counter(
            "switchboard_finish_total",
            "Served generations by finish reason (length = truncated).",
            ["route", "variant", "endpoint", "reason"],
        )
        self.empty_outputs = per_request.counter(
            "switchboard_empty_outputs_total",
            "Served generations with no output text.",
            ["route", "endpoint"],
        )
        self.shadows = per_request.counter(
            "switchboard_shadow_requests_total",
            "Mirrored requests by outcome.",
            ["route", "endpoint", "outcome"],
        )
        self.explore_observations = per_request.counter(
            "switchboard_explore_observations_total",
            "Requests counted by the explore posterior of a route, per endpoint.",
            ["route", "endpoint"],
        )
        self.explore_quality = per_request.counter(
            "switchboard_explore_quality_total",
            "Sum of the quality (0..1) counted for them; feedback scores added as they come.",
            ["route", "endpoint"],
        )
        self.explore_replaced = per_request.counter(
            "switchboard_explore_quality_replaced_total",
            "Sum of the counted qualities that feedback later replaced (subtract from the quality total).",
            ["route", "endpoint"],
        )
        self.explore_choices = per_request.counter(
            "switchboard_explore_choices_total",
            "Explore decisions by what served first: best (the posterior's best) or explored.",
            ["route", "endpoint", "choice"],
        )
        self.feedback = per_request.histogram(
            "switchboard_feedback_score",
            "Quality feedback scores (0..1) from POST /v1/feedback.",
            ["route", "variant", "endpoint"],
            buckets=SCORE_BUCKETS,
        )

    def _declare_config(self) -> None:
        self.config_reloads = Counter(
            "switchboard_config_reloads_total",
            "Config loads by result (applied, unchanged, error).",
            ["result"],
            registry=self.registry,
        )
        self.config_info = Gauge(
            "switchboard_config_info",
            "Version of the config this sidecar serves (value 1).",
            ["version"],
            registry=self.registry,
        )
        self.config_error = Gauge(
            "switchboard_config_last_reload_failed",
            "1 when the newest config was refused; the last good serves.",
            registry=self.registry,
        )
        self.variant_stopped = Gauge(
            "switchboard_variant_stopped",
            "1 when guardrails stopped an experiment variant.",
            ["route", "variant"],
            registry=self.registry,
        )

    def series(self, route: str, variant: str, endpoint: str) -> Series:
        """The cached children of one (route, variant, endpoint)."""
        key = (route, variant, endpoint)
        found = self._series.get(key)
        if found is None:
            found = self._series[key] = Series(self, route, variant, endpoint)
        return found

    def set_config_version(self, version: str) -> None:
        """Exactly one config_info series: the version served now."""
        self.config_info.clear()
        self.config_info.labels(version=version).set(1)

    def exposition(self) -> bytes:
        """The Prometheus text format of everything in this registry."""
        return generate_latest(self.registry)
