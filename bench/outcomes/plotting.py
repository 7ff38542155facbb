"""The cost/quality plot of the outcome benchmark (matplotlib, the `bench` extra): one point per strategy,
and the Pareto frontier through the points no other strategy beats on both cost and quality."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
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


def _mean_point(runs: list[Any]) -> SimpleNamespace:
    return SimpleNamespace(
        strategy=runs[0].strategy,
        cost_usd=sum(r.cost_usd for r in runs) / len(runs),
        quality=sum(r.quality for r in runs) / len(runs),
    )


def plot_frontier(runs: list[list[Point]], path: Path) -> None:
    """Each strategy's runs (small) and their mean (labelled); the frontier through the means; the
    goal (at least 60% cheaper than always-frontier at 95% of its quality) shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    means = [_mean_point(r) for r in runs]
    base = means[0]
    right = max(p.cost_usd for r in runs for p in r) * 1.35
    figure, axes = plt.subplots(figsize=(8, 5), dpi=110)
    axes.axhspan(
        0.95 * base.quality,
        base.quality * 1.02,
        xmax=0.4 * base.cost_usd / right,
        color="#16a34a",
        alpha=0.12,
        label="goal: >= 60% saved at >= 95% quality",
    )
    for index, (strategy_runs, point) in enumerate(zip(runs, means, strict=True)):
        colour = f"C{index}"
        marker = "s" if point.strategy.startswith("always") else ("o" if "explore" in point.strategy else "D")
        if len(strategy_runs) > 1:
            axes.scatter(
                [r.cost_usd for r in strategy_runs],
                [r.quality for r in strategy_runs],
                s=18,
                marker=marker,
                color=colour,
                alpha=0.45,
                zorder=3,
            )
        axes.scatter(point.cost_usd, point.quality, s=70, marker=marker, color=colour, zorder=4)
        axes.annotate(
            point.strategy, (point.cost_usd, point.quality), textcoords="offset points", xytext=(7, 4)
        )
    front = pareto(means)
    axes.plot([p.cost_usd for p in front], [p.quality for p in front], "--", color="#888888", zorder=2)
    axes.set_xlabel("cost of the workload (USD, simulated prices of examples/endpoints.yaml)")
    axes.set_ylabel("mean quality (simulated, MT-Bench win rates)")
    axes.set_title("Switchboard outcome benchmark: cost and quality per strategy")
    axes.set_xlim(0, right)
    axes.legend(loc="lower right", fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
