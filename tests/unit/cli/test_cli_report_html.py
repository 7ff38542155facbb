"""`switchboard report --html`: the page is self-contained, and each chart places what it was given."""

from __future__ import annotations

import re
from xml.etree import ElementTree

from switchboard_proxy.cli.report_html import HEIGHT, PAD, WIDTH, cost_quality_chart, line_chart, render_html
from switchboard_proxy.cli.reporting import Report
from switchboard_proxy.config.fleet import Estimate, VariantFigures

START, END = 1_800_000_000.0, 1_800_000_600.0
SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def points(polyline: ElementTree.Element) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in polyline.attrib["points"].split())]


def test_a_line_per_variant_spanning_the_window() -> None:
    series = [
        ({"variant": "control"}, [(START, 0.0), (END, 2.0)]),
        ({"variant": "candidate"}, [(START, 1.0), (START + 300, float("nan")), (END, 1.0)]),
    ]
    chart = parse(line_chart("p95 latency (s)", series, start=START, end=END))
    assert chart.attrib["id"] == "chart-p95-latency-s"
    control, candidate = chart.findall(f"{SVG}polyline")
    assert control.attrib["data-variant"] == "control" and candidate.attrib["data-variant"] == "candidate"
    # The window's ends are the plot's edges; the highest value is the top, zero the bottom.
    assert points(control) == [(PAD, HEIGHT - PAD), (WIDTH - PAD, PAD)]
    assert len(points(candidate)) == 2, "a NaN (no traffic at that step) is left out"
    assert control.attrib["stroke"] != candidate.attrib["stroke"]
    legend = [t.text for t in chart.findall(f"{SVG}text") if t.attrib.get("class") == "legend"]
    assert legend == ["\u25a0 control", "\u25a0 candidate"]


def test_an_empty_trend_says_so() -> None:
    chart = line_chart("error rate", [], start=START, end=END)
    assert "no data in this window" in chart and "<polyline" not in chart


def figures(name: str, cost: float, feedback: float) -> VariantFigures:
    return VariantFigures(
        name=name,
        requests=100,
        cost_per_request_usd=Estimate(value=cost, low=cost, high=cost),
        feedback=Estimate(value=feedback, low=feedback, high=feedback),
        feedback_count=50,
    )


def test_cost_quality_points_for_variants_and_endpoints() -> None:
    chart = parse(
        cost_quality_chart(
            [figures("control", 0.001, 0.6), figures("candidate", 0.01, 0.9)],
            [figures("cheap", 0.001, 0.6), figures("dear", 0.01, 0.9), VariantFigures(name="idle")],
        )
    )
    rings = chart.findall(f"{SVG}circle")
    squares = chart.findall(f"{SVG}rect")
    assert len(rings) == 2 and len(squares) == 2, "idle has no cost or quality: no point"
    (low, high) = sorted(rings, key=lambda ring: float(ring.attrib["cx"]))
    assert float(low.attrib["cy"]) > float(high.attrib["cy"]), "better quality sits higher"
    labels = " ".join(t.text or "" for t in chart.findall(f"{SVG}text"))
    assert "candidate (0.90, $0.01)" in labels and "cheap (0.60, $0.001)" in labels


def test_the_page_is_self_contained() -> None:
    report = Report(
        route="chat<script>",
        namespace="team",
        since_seconds=600,
        generated_at=END,
        variants=[figures("control", 0.001, 0.6)],
        endpoints=[figures("cheap", 0.001, 0.6)],
        trends={"error rate": [({"variant": "control"}, [(START, 0.0), (END, 0.1)])]},
    )
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"https?://(?!www\.w3\.org)", page) and "<script" not in page
    assert "chat&lt;script&gt;" in page
    assert 'id="chart-error-rate"' in page and 'id="cost-quality"' in page and 'id="figures"' in page
    assert "last 10m" in page
