"""The outcome benchmark's pure parts: the committed quality table, the workload, the strategies' routes
(valid resources the contract compiles) and the Pareto frontier of the plot."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest

from support.builders import compile_config

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench" / "outcomes"))

from plotting import pareto
from qualities import load_table, quality, task_quality, workload
from strategies import all_strategies, endpoints

TABLE = load_table()


def test_the_table_keeps_the_published_figures() -> None:
    # Zheng et al. 2023, "Category-wise win rate of models": spot checks against the paper.
    assert TABLE.win_rates["gpt-4"]["stem"] == 0.766
    assert TABLE.win_rates["vicuna-13b"]["math"] == 0.180
    assert TABLE.win_rates["gpt-3.5"]["coding"] == 0.550
    assert task_quality(TABLE, endpoint="frontier", task="edit") == pytest.approx((0.563 + 0.662) / 2)


@pytest.mark.parametrize("task", list(TABLE.workload))
def test_harder_requests_are_less_often_good_and_stronger_models_better(task: str) -> None:
    for endpoint in TABLE.endpoints:
        easy, hard = (quality(TABLE, endpoint=endpoint, task=task, difficulty=d) for d in ("easy", "hard"))
        assert 0 < hard < easy < 1
    ranked = [task_quality(TABLE, endpoint=e, task=task) for e in ("cheap", "capable", "frontier")]
    assert ranked == sorted(ranked)


def test_the_workload_is_seeded_and_follows_its_shares() -> None:
    calls = workload(TABLE, requests=4000, seed=7)
    assert calls == workload(TABLE, requests=4000, seed=7)
    shares = Counter(c.task for c in calls)
    for task, shape in TABLE.workload.items():
        assert shares[task] / 4000 == pytest.approx(shape["share"], abs=0.03)
    agent = next(c for c in calls if c.task == "agent" and c.difficulty == "hard")
    assert agent.prompt_tokens == 16000 and agent.max_tokens == 1600
    assert len(agent.body()["messages"][0]["content"]) == pytest.approx(16000 * 4, rel=0.01)


def test_every_strategy_compiles_against_the_example_endpoints() -> None:
    served_by = endpoints("http://127.0.0.1:9")
    assert all("apiKey" not in d["spec"] and "limits" not in d["spec"] for d in served_by)
    for name, documents in all_strategies(TABLE, cheapest="cheap").items():
        config = compile_config(*served_by, *documents)
        assert config.routes, name


def test_the_frontier_keeps_only_undominated_points() -> None:
    points = [
        SimpleNamespace(strategy=name, cost_usd=cost, quality=q)
        for name, cost, q in [("a", 1, 0.4), ("b", 2, 0.5), ("c", 3, 0.45), ("d", 4, 0.6)]
    ]
    assert [p.strategy for p in pareto(points)] == ["a", "b", "d"]
