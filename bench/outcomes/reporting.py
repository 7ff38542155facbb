"""The outcome benchmark's results as markdown (pure): per strategy the mean over its runs, with the
range when it ran more than once (explore samples, so its runs differ), against always-frontier."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- outcomes:begin -->", "<!-- outcomes:end -->"


@dataclass
class Outcome:
    """What one run of one strategy did with the workload."""

    strategy: str
    requests: int = 0
    errors: int = 0
    cost_usd: float = 0.0
    quality: float = 0.0  # mean probability of a good answer (0 for an error)
    feedback: float = 0.0  # mean of the thumbs sent
    seconds: float = 0.0
    served: dict[str, dict[str, int]] = field(default_factory=dict)  # task -> endpoint -> requests


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _figure(values: list[float], form: str) -> str:
    shown = format(mean(values), form)
    if len(values) > 1:
        shown += f" ({format(min(values), form)}-{format(max(values), form)})"
    return shown


def _summary_row(runs: list[Outcome], base: Outcome) -> str:
    saved = [1 - o.cost_usd / base.cost_usd for o in runs]
    share = [o.quality / base.quality for o in runs]
    cells = [
        f"{runs[0].strategy}" + (f" ({len(runs)} runs)" if len(runs) > 1 else ""),
        _figure([o.cost_usd for o in runs], ".2f"),
        _figure(saved, ".1%"),
        _figure([o.quality for o in runs], ".3f"),
        _figure(share, ".1%"),
        str(sum(o.errors for o in runs)),
    ]
    return "| " + " | ".join(cells) + " |"


def _served_rows(runs: list[list[Outcome]]) -> list[str]:
    tasks = sorted({t for r in runs for o in r for t in o.served})
    lines = ["| strategy (first run) | " + " | ".join(tasks) + " |", "|---" * (len(tasks) + 1) + "|"]
    for first in (r[0] for r in runs):
        cells = [
            ", ".join(f"{e} {n}" for e, n in sorted(first.served.get(t, {}).items(), key=lambda i: -i[1]))
            for t in tasks
        ]
        lines.append(f"| {first.strategy} | " + " | ".join(cells) + " |")
    return lines


def markdown(runs: list[list[Outcome]], *, requests: int, seconds: float) -> str:
    """The results table (first strategy = always-frontier, the base) and where requests went."""
    base = runs[0][0]
    lines = [
        f"Outcome benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: the same {requests:,} "
        "requests for every strategy (55% tab completion, 20% chat, 15% edit, 10% agent; 30% easy, 40% "
        f"medium, 30% hard), {seconds:.0f} s in all. Qualities simulated from MT-Bench category win rates "
        "([the table](bench/outcomes/quality_table.yaml)); explore: mean of its runs (lowest-highest).",
        "",
        "| strategy | cost (USD) | cost saved vs always-frontier | mean quality "
        "| % of always-frontier quality | errors |",
        "|---|---|---|---|---|---|",
        *(_summary_row(r, base) for r in runs),
        "",
        "Where each strategy sent each task type (requests):",
        "",
        *_served_rows(runs),
    ]
    return "\n".join(lines)


def update_readme(text: str) -> None:
    """Replace the README's outcomes block with `text`."""
    readme = README.read_text()
    start, end = readme.find(BEGIN), readme.find(END)
    if start == -1 or end == -1:
        print(f"README.md has no {BEGIN} ... {END} block; not updated", file=sys.stderr)
        return
    README.write_text(readme[: start + len(BEGIN)] + "\n" + text + "\n" + readme[end:])
