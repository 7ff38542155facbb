"""`switchboard report --html FILE`: one self-contained page (inline SVG and CSS, no script, no CDN).

Charts: each trend (error rate, p95 latency, cost per minute) over time, one line per variant; the
cost/quality points of every variant and endpoint; then the tables. Pure: a `Report` in, text out.
"""

from __future__ import annotations

import html
import math
import re
import time
from collections.abc import Callable

from ..config.fleet import VariantFigures
from ..telemetry.prometheus import Matrix
from .reporting import Report, duration, quality_of, render_table

WIDTH, HEIGHT, PAD = 640, 260, 48
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563", "#ca8a04")
STYLE = """
body { font: 14px system-ui, sans-serif; margin: 24px; color: #111827; background: #ffffff; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
svg { background: #f9fafb; border: 1px solid #e5e7eb; }
.axis { stroke: #9ca3af; stroke-width: 1; } .grid { stroke: #e5e7eb; stroke-width: 1; }
.series { fill: none; stroke-width: 2; } text { font-size: 11px; fill: #374151; }
pre { background: #f3f4f6; padding: 12px; overflow-x: auto; font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
"""


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def _scale(low: float, high: float, size: float, *, flip: bool) -> Callable[[float], float]:
    """Map [low, high] onto the plot area of a chart `size` wide (or high, `flip`ped: SVG's y grows down)."""
    span = (high - low) or (abs(low) or 1.0)

    def place(v: float) -> float:
        share = (v - low) / span
        return PAD + (1 - share) * (size - 2 * PAD) if flip else PAD + share * (size - 2 * PAD)

    return place


def _frame(chart_id: str, title: str) -> list[str]:
    return [
        f'<svg class="chart" id="{chart_id}" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{html.escape(title)}">',
        f'<text x="{PAD}" y="18" font-weight="bold">{html.escape(title)}</text>',
        f'<line class="axis" x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}"/>',
        f'<line class="axis" x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}"/>',
    ]


def _clock(epoch_seconds: float) -> str:
    return time.strftime("%H:%M", time.gmtime(epoch_seconds))


def line_chart(title: str, series: Matrix, *, start: float, end: float) -> str:
    """One trend over the report's window, a polyline per variant, with a y range and a legend."""
    values = [v for _, points in series for _, v in points if math.isfinite(v)]
    top = max([*values, 0.0])
    x = _scale(start, end, WIDTH, flip=False)
    y = _scale(0.0, top, HEIGHT, flip=True)
    parts = [
        *_frame(f"chart-{_slug(title)}", title),
        f'<text x="4" y="{PAD + 4}">{top or 1:.3g}</text><text x="4" y="{HEIGHT - PAD}">0</text>',
        f'<text x="{PAD}" y="{HEIGHT - PAD + 16}">{_clock(start)}</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 16}" text-anchor="end">{_clock(end)} UTC</text>',
    ]
    for index, (labels, points) in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        drawn = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points if math.isfinite(v))
        name = html.escape(labels.get("variant", "?"))
        parts += [
            f'<polyline class="series" data-variant="{name}" stroke="{colour}" points="{drawn}"/>',
            f'<text class="legend" x="{PAD + 90 + 130 * index}" y="{HEIGHT - 10}" '
            f'style="fill: {colour}">&#9632; {name}</text>',
        ]
    if not values:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no data in this window</text>'
        )
    return "\n".join([*parts, "</svg>"])


def _mark(kind: str, label: str, cx: float, cy: float, colour: str) -> list[str]:
    # A variant with one target sits on its endpoint: a variant is a ring around it, labelled above,
    # and an endpoint a square labelled below.
    if kind == "variant":
        ring = f'r="9" fill="none" stroke="{colour}" stroke-width="3"'
        shape, dy = f'<circle class="point" cx="{cx:.1f}" cy="{cy:.1f}" {ring}/>', -12
    else:
        corner = f'x="{cx - 5:.1f}" y="{cy - 5:.1f}"'
        shape, dy = f'<rect class="point" {corner} width="10" height="10" fill="{colour}"/>', 18
    anchor = "end" if cx > WIDTH / 2 else "start"
    where = f'x="{cx:.1f}" y="{cy + dy:.1f}" text-anchor="{anchor}"'
    return [shape, f'<text {where} style="fill: {colour}">{label}</text>']


def cost_quality_chart(variants: list[VariantFigures], endpoints: list[VariantFigures]) -> str:
    """Every variant (ring) and endpoint (square) at its cost per request and quality."""
    marks = [
        (kind, f.name, f.cost_per_request_usd.value, quality)
        for kind, group in (("variant", variants), ("endpoint", endpoints))
        for f in group
        if f.cost_per_request_usd is not None and (quality := quality_of(f)) is not None
    ]
    cost_high = max([m[2] for m in marks] or [0.0]) * 1.1
    x = _scale(0.0, cost_high, WIDTH, flip=False)
    y = _scale(0.0, 1.0, HEIGHT, flip=True)
    parts = [
        *_frame("cost-quality", "cost per request (USD) and quality"),
        f'<text x="4" y="{PAD + 4}">1.0</text><text x="4" y="{HEIGHT - PAD}">0.0</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - PAD + 16}" text-anchor="end">${cost_high:.3g}</text>',
        f'<text x="{PAD}" y="{HEIGHT - 10}">&#9675; variant   &#9632; endpoint</text>',
    ]
    for index, (kind, name, cost, quality) in enumerate(marks):
        label = f"{html.escape(name)} ({quality:.2f}, ${cost:.3g})"
        parts += _mark(kind, label, x(cost), y(quality), COLOURS[index % len(COLOURS)])
    if not marks:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no traffic in this window</text>'
        )
    return "\n".join([*parts, "</svg>"])


def render_html(report: Report) -> str:
    """The whole page."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(report.generated_at))
    start = report.generated_at - report.since_seconds
    charts = [
        line_chart(title, series, start=start, end=report.generated_at)
        for title, series in report.trends.items()
    ]
    charts.append(cost_quality_chart(report.variants, report.endpoints))
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>switchboard report: {html.escape(report.route)}</title>",
            f"<style>{STYLE}</style></head><body>",
            f"<h1>Route {html.escape(report.route)} ({html.escape(report.namespace)})</h1>",
            f"<p>Fleet figures from Prometheus over the last {duration(report.since_seconds)}, {when}. "
            "Intervals are 95%; quality is mean feedback where given, else the share served without "
            "an error.</p>",
            '<div class="charts">',
            *charts,
            "</div>",
            "<h2>Figures</h2>",
            f'<pre id="figures">{html.escape(render_table(report))}</pre>',
            "</body></html>",
        ]
    )
