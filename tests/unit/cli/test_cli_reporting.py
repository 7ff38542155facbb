"""`switchboard report`'s pure parts: figures gathered from (canned) Prometheus answers, the terminal
table, and the window and quality it shows."""

from __future__ import annotations

import pytest

from switchboard_proxy.cli.reporting import Report, duration, gather, quality_of, render_table
from switchboard_proxy.config.fleet import Estimate, VariantFigures
from switchboard_proxy.telemetry.measuring import Vector
from switchboard_proxy.telemetry.prometheus import Matrix, Prometheus


def estimate(value: float) -> Estimate:
    return Estimate(value=value, low=value * 0.9, high=value * 1.1)


def figures(name: str, **fields: object) -> VariantFigures:
    return VariantFigures.model_validate({"name": name, **fields})


class CannedPrometheus(Prometheus):
    """Answers each query by the metric and label it names, as a Prometheus with two variants would."""

    def __init__(self) -> None:
        super().__init__("http://prometheus.invalid")
        self.ranges: list[str] = []

    def vector(self, expression: str) -> Vector:
        by = "endpoint" if "by (route, endpoint" in expression else "variant"
        names = ("cheap", "dear") if by == "endpoint" else ("control", "candidate")
        if "_bucket" in expression:
            return []
        if "requests_total" in expression or "attempts_total" in expression:
            failed = 'code=~"5.."' in expression or 'outcome!~"success' in expression
            return [({"route": "chat", by: n}, 1.0 if failed else 50.0) for n in names]
        if "cost_usd_total" in expression:
            return [({"route": "chat", by: "control" if by == "variant" else "cheap"}, 0.5)]
        if "finish_total" in expression:
            return [({"route": "other", by: n}, 5.0) for n in names]
        return []

    def matrix(self, expression: str, *, start: float, end: float, step_seconds: float) -> Matrix:
        self.ranges.append(expression)
        return [({"variant": "control"}, [(start, 0.1), (end, 0.2)])]


def test_gather_keeps_the_route_and_splits_variants_and_endpoints() -> None:
    prometheus = CannedPrometheus()
    report = gather(prometheus, route="chat", namespace="team", since_seconds=600, trends=True)
    assert [v.name for v in report.variants] == ["candidate", "control"]
    assert [e.name for e in report.endpoints] == ["cheap", "dear"]
    control = next(v for v in report.variants if v.name == "control")
    assert control.requests == 50
    assert control.error_rate is not None and control.error_rate.value == pytest.approx(0.02)
    assert control.cost_per_request_usd is not None and control.cost_per_request_usd.value == 0.01
    assert set(report.trends) == {"error rate", "p95 latency (s)", "cost per minute (USD)"}
    assert all('namespace="team",route="chat"' in q for q in prometheus.ranges)


def test_gather_without_html_asks_for_no_trends() -> None:
    prometheus = CannedPrometheus()
    report = gather(prometheus, route="chat", namespace="team", since_seconds=600, trends=False)
    assert report.trends == {} and prometheus.ranges == []


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        pytest.param(45, "45s", id="seconds"),
        pytest.param(600, "10m", id="minutes"),
        pytest.param(21600, "6h", id="hours"),
        pytest.param(172800, "2d", id="days"),
        pytest.param(5400, "90m", id="not-whole-hours"),
    ],
)
def test_duration_shows_the_window_as_written(seconds: int, shown: str) -> None:
    assert duration(seconds) == shown


@pytest.mark.parametrize(
    ("found", "quality"),
    [
        pytest.param(
            figures("a", feedback=estimate(0.8), feedbackCount=12, errorRate=estimate(0.1)),
            0.8,
            id="feedback",
        ),
        pytest.param(figures("a", errorRate=estimate(0.1)), 0.9, id="no-feedback-success-share"),
        pytest.param(figures("a", feedback=estimate(0.8), feedbackCount=0), None, id="nothing-counted"),
    ],
)
def test_quality_is_feedback_else_success(found: VariantFigures, quality: float | None) -> None:
    assert quality_of(found) == (pytest.approx(quality) if quality is not None else None)


def report_of(variants: list[VariantFigures], endpoints: list[VariantFigures]) -> Report:
    return Report(
        route="chat",
        namespace="team",
        since_seconds=3600,
        generated_at=1_800_000_000.0,
        variants=variants,
        endpoints=endpoints,
    )


def test_the_table_has_a_row_per_variant_and_endpoint_with_intervals() -> None:
    control = figures(
        "control",
        requests=120,
        errorRate=estimate(0.05),
        latencyP95Ms=812.5,
        costPerRequestUsd=estimate(0.0021),
        feedback=estimate(0.7),
        feedbackCount=40,
    )
    table = render_table(report_of([control], [figures("cheap", requests=130)]))
    lines = table.splitlines()
    assert lines[0] == "route chat in namespace team, last 1h"
    row = next(line for line in lines if line.split()[:2] == ["control", "120"])
    assert "0.050 [0.045-0.055]" in row and "812.5" in row and "0.002100" in row
    assert row.endswith("0.700 [0.630-0.770] n=40")
    assert next(line for line in lines if line.split()[:1] == ["cheap"]).split()[1:3] == ["130", "-"]


def test_the_table_says_when_there_is_no_traffic() -> None:
    assert render_table(report_of([], [])).count("(no traffic)") == 2
