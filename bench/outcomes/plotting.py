"""The cost/quality plot of the outcome benchmark (matplotlib, the `bench` extra): one point per strategy,
and the Pareto frontier through the points no other strategy beats on both cost and quality."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol


class Point(Protocol):
    strategy: str
    cost_usd: float
    quality: float


def pareto(points: list[Any]) -> list[Any]:
    """The points no other point beats on both cost (lower) and quality (higher), by cost."""
    kept = [
        p
        for p in points
        if not any(
            q.cost_usd <= p.cost_usd
            and q.quality >= p.quality
            and (q.cost_usd, q.quality) != (p.cost_usd, p.quality)
            for q in points
        )
    ]
    return sorted(kept, key=lambda p: p.cost_usd)


def plot_frontier(points: list[Point], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 5), dpi=110)
    for point in points:
        marker = "s" if point.strategy.startswith("always") else ("o" if "explore" in point.strategy else "D")
        axes.scatter(point.cost_usd, point.quality, s=60, marker=marker, zorder=3)
        axes.annotate(
            point.strategy, (point.cost_usd, point.quality), textcoords="offset points", xytext=(6, 4)
        )
    front = pareto(list(points))
    axes.plot([p.cost_usd for p in front], [p.quality for p in front], "--", color="#888888", zorder=2)
    frontier = next((p for p in points if p.strategy == "always-frontier"), None)
    if frontier is not None:
        axes.axhline(0.95 * frontier.quality, color="#dc2626", linewidth=0.8, linestyle=":")
        axes.annotate(
            "95% of always-frontier quality",
            (0, 0.95 * frontier.quality),
            xytext=(4, -12),
            textcoords="offset points",
            color="#dc2626",
            fontsize=8,
        )
    axes.set_xlabel("cost of the workload (USD, simulated prices of examples/endpoints.yaml)")
    axes.set_ylabel("mean quality (simulated, MT-Bench win rates)")
    axes.set_title("Switchboard outcome benchmark: cost and quality per strategy")
    axes.set_xlim(0, max(p.cost_usd for p in points) * 1.3)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
