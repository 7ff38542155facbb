"""`switchboard report ROUTE`: a route's fleet figures from Prometheus, per variant and per endpoint.

Reads the same PromQL as the operator (`telemetry.measuring`) and computes the same figures with their
95% intervals (`telemetry.figures`); prints a table, and with `--html FILE` writes a self-contained page
of charts (`report_html`). Quality on the cost/quality chart is the mean feedback where callers sent
any, else the share of requests served without an error.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..config.fleet import VariantFigures
from ..telemetry.figures import figures
from ..telemetry.measuring import collect, endpoint_breakdown_queries, variant_queries, variant_trend_queries
from ..telemetry.prometheus import Matrix, Prometheus

POINTS = 120  # per chart line: enough to see a trend, small enough for a page


@dataclass
class Report:
    """Everything one report shows."""

    route: str
    namespace: str
    since_seconds: int
    generated_at: float
    variants: list[VariantFigures]
    endpoints: list[VariantFigures]
    trends: dict[str, Matrix] = field(default_factory=dict)


def gather(prometheus: Prometheus, *, route: str, namespace: str, since_seconds: int, trends: bool) -> Report:
    """Query Prometheus for one route (raises PrometheusUnavailable)."""
    now = time.time()
    start = now - since_seconds
    by_variant = collect({k: prometheus.vector(q) for k, q in variant_queries(namespace, start).items()})
    queries = endpoint_breakdown_queries(namespace, route, start)
    by_endpoint = collect({k: prometheus.vector(q) for k, q in queries.items()}, by=("route", "endpoint"))
    report = Report(
        route=route,
        namespace=namespace,
        since_seconds=since_seconds,
        generated_at=now,
        variants=[figures(v, d) for (r, v), d in sorted(by_variant.items()) if r == route],
        endpoints=[figures(e, d) for (r, e), d in sorted(by_endpoint.items()) if r == route],
    )
    if trends:
        step = max(since_seconds / POINTS, 1.0)
        report.trends = {
            title: prometheus.matrix(expression, start=start, end=now, step_seconds=step)
            for title, expression in variant_trend_queries(namespace, route).items()
        }
    return report


def quality_of(found: VariantFigures) -> float | None:
    """Mean feedback if any was given, else the share served without an error."""
    if found.feedback is not None and found.feedback_count:
        return found.feedback.value
    return 1 - found.error_rate.value if found.error_rate is not None else None


def duration(seconds: float) -> str:
    """600 -> '10m', 21600 -> '6h': a window as the user wrote it."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size:g}{unit}"
    return f"{seconds:g}s"


def _cell(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _interval(found: object) -> str:
    value = getattr(found, "value", None)
    if value is None:
        return "-"
    return f"{value:.3f} [{getattr(found, 'low', 0):.3f}-{getattr(found, 'high', 0):.3f}]"


COLUMNS = (
    ("requests", 9),
    ("error rate [95%]", 22),
    ("fallback", 8),
    ("degraded", 8),
    ("truncated", 9),
    ("p95 ms", 8),
    ("ttft p95", 8),
    ("$/request", 10),
    ("feedback [95%]", 22),
)


def _row(name: str, found: VariantFigures) -> str:
    cost = found.cost_per_request_usd.value if found.cost_per_request_usd else None
    cells = [
        str(found.requests),
        _interval(found.error_rate),
        _cell(found.fallback_rate.value if found.fallback_rate else None),
        _cell(found.degraded_rate.value if found.degraded_rate else None),
        _cell(found.truncated_rate.value if found.truncated_rate else None),
        _cell(found.latency_p95_ms, 1),
        _cell(found.ttft_p95_ms, 1),
        _cell(cost, 6),
        _interval(found.feedback) + (f" n={found.feedback_count}" if found.feedback_count else ""),
    ]
    return f"  {name:<20}" + "".join(f" {c:>{w}}" for c, (_, w) in zip(cells, COLUMNS, strict=True))


def render_table(report: Report) -> str:
    """The terminal report."""
    header = f"  {'':<20}" + "".join(f" {title:>{w}}" for title, w in COLUMNS)
    window = duration(report.since_seconds)
    lines = [f"route {report.route} in namespace {report.namespace}, last {window}", "variants:", header]
    lines += [_row(v.name, v) for v in report.variants] or ["  (no traffic)"]
    lines += ["endpoints (attempts sent; errors are failed attempts):", header]
    lines += [_row(e.name, e) for e in report.endpoints] or ["  (no traffic)"]
    return "\n".join(lines)
