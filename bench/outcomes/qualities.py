"""The outcome benchmark's known world (pure): each endpoint's quality per task type and difficulty, from
the committed table (`quality_table.yaml`), and the seeded workload every strategy is run on.

Where it sits: `run.py` sends `workload()` through a sidecar per strategy; for each answer it looks up
`quality()` of the endpoint that served it and sends a thumbs-up (1) or down (0) as feedback, drawn with
the request's own uniform number, so that every strategy meets the same luck on the same request.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TABLE = Path(__file__).with_name("quality_table.yaml")


@dataclass(frozen=True)
class Table:
    """The parsed quality table."""

    source: str
    win_rates: dict[str, dict[str, float]]
    endpoints: dict[str, str]
    tasks: dict[str, list[str]]
    difficulty: dict[str, dict[str, float]]
    workload: dict[str, dict[str, float]]
    explore: dict[str, Any]


def load_table(path: Path = TABLE) -> Table:
    data = yaml.safe_load(path.read_text())
    return Table(**data)


def task_quality(table: Table, *, endpoint: str, task: str) -> float:
    """Mean win rate of the endpoint's table model over the task's MT-Bench categories."""
    row = table.win_rates[table.endpoints[endpoint]]
    categories = table.tasks[task]
    return sum(row[c] for c in categories) / len(categories)


def quality(table: Table, *, endpoint: str, task: str, difficulty: str) -> float:
    """Probability that the endpoint's answer to a request of this task and difficulty is good."""
    return task_quality(table, endpoint=endpoint, task=task) ** table.difficulty[difficulty]["exponent"]


@dataclass(frozen=True)
class Call:
    """One request of the workload."""

    index: int
    task: str
    difficulty: str
    prompt_tokens: int
    max_tokens: int
    luck: float  # uniform 0..1: the answer is good when luck < its quality

    def body(self) -> dict[str, Any]:
        # The sim counts a prompt token per 4 characters.
        words = "lorem " * (self.prompt_tokens * 4 // 6)
        return {
            "model": "any",
            "messages": [{"role": "user", "content": f"{self.task} #{self.index}: {words}"}],
            "max_tokens": self.max_tokens,
        }


def _pick(rng: random.Random, shares: dict[str, float]) -> str:
    names = list(shares)
    return rng.choices(names, weights=[shares[n] for n in names])[0]


def workload(table: Table, *, requests: int, seed: int = 1) -> list[Call]:
    """The same seeded sequence of calls for every strategy."""
    rng = random.Random(seed)
    calls = []
    for index in range(requests):
        task = _pick(rng, {t: float(w["share"]) for t, w in table.workload.items()})
        difficulty = _pick(rng, {d: float(v["share"]) for d, v in table.difficulty.items()})
        size = table.difficulty[difficulty]["size"]
        shape = table.workload[task]
        calls.append(
            Call(
                index=index,
                task=task,
                difficulty=difficulty,
                prompt_tokens=max(1, round(shape["prompt_tokens"] * size)),
                max_tokens=max(1, round(shape["output_tokens"] * size)),
                luck=rng.random(),
            )
        )
    return calls
