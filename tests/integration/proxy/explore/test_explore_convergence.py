"""strategy explore against real processes: three sim endpoints of known quality and price, 2,000 requests
through the OpenAI SDK with feedback drawn from each endpoint's quality; then a sidecar started later
begins from the fleet's posterior (folded into status the way the operator does).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from support.processes import Process
from support.stack import Stack, endpoint, http, read_metric, route, start_proxy, start_sim, write_resources
from switchboard_operator.exploring import ExploreSeries, fleet_evidence

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(240)]

# endpoint -> (true quality, input $/Mtok, output $/Mtok). Reward = quality - 0.2 x normalised cost:
# cheap 0.55 - 0.2 x 0.007 = 0.549, middle 0.8 - 0.2 x 0.067 = 0.787, frontier 0.9 - 0.2 = 0.7.
ARMS = {"cheap": (0.55, 0.1, 0.2), "middle": (0.8, 1.0, 2.0), "frontier": (0.9, 10.0, 30.0)}
BEST = "middle"
EXPLORE = {"costWeight": 0.2, "maxExplorePercent": 10}
REQUESTS, WORKERS = 2000, 4


def documents(sim_url: str, status: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    endpoints = [
        endpoint(name, sim_url, pricing={"inputPerMTok": price_in, "outputPerMTok": price_out})
        for name, (_, price_in, price_out) in ARMS.items()
    ]
    explore_route = route("agent", list(ARMS), strategy="explore", explore=EXPLORE, default=True)
    if status is not None:
        explore_route["status"] = status
    return [*endpoints, explore_route]


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    process = start_sim({name: {} for name in ARMS}, tmp_dir=tmp_path_factory.mktemp("sim"))
    try:
        yield process
    finally:
        process.stop()


def start_stack(sim: Process, directory: Path, status: dict[str, Any] | None = None) -> Stack:
    resources = write_resources(directory, documents(sim.base_url, status))
    return Stack(sim=sim, proxy=start_proxy(resources=resources), resources=resources)


def ask(stack: Stack, index: int, *, feedback: bool) -> str:
    """One chat request; the endpoint that served it; feedback drawn from that endpoint's quality."""
    reply = stack.post(
        "/v1/chat/completions",
        {"model": "agent", "messages": [{"role": "user", "content": "fix the bug"}], "max_tokens": 500},
    )
    assert reply.status == 200, reply.body
    served = reply.header("X-Switchboard-Endpoint") or ""
    if feedback:
        score = float(random.Random(index).random() < ARMS[served][0])
        request_id = reply.header("X-Request-Id")
        answer = http("POST", f"{stack.url}/v1/feedback", {"request_id": request_id, "score": score})
        assert answer.status == 200, answer.body
    return served


def run(stack: Stack, count: int, *, feedback: bool, start: int = 0) -> list[str]:
    # Bounded: `count` requests, WORKERS at a time, each with the client's 30 s timeout.
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(lambda i: ask(stack, i, feedback=feedback), range(start, start + count)))


def evidence_status(metrics: str) -> dict[str, Any]:
    """status.explore as the operator would fold it from this (one-sidecar) fleet's counters."""
    series = [
        ExploreSeries(
            "agent",
            name,
            read_metric(metrics, "switchboard_explore_observations_total", route="agent", endpoint=name),
            read_metric(metrics, "switchboard_explore_quality_total", route="agent", endpoint=name),
            read_metric(metrics, "switchboard_explore_quality_replaced_total", route="agent", endpoint=name),
        )
        for name in ARMS
    ]
    evidence = fleet_evidence(series)["agent"]
    return {"explore": {"evidence": [e.model_dump(by_alias=True) for e in evidence.values()]}}


def test_explore_converges_within_its_bound_and_a_later_sidecar_inherits(
    sim: Process, tmp_path: Path
) -> None:
    first = start_stack(sim, tmp_path / "first")
    try:
        served = run(first, REQUESTS, feedback=True)
        metrics = first.get("/metrics").body.decode()
    finally:
        first.proxy.stop()
    last = Counter(served[-500:])
    share = last[BEST] / 500
    explored = read_metric(metrics, "switchboard_explore_choices_total", route="agent", choice="explored")
    decisions = read_metric(metrics, "switchboard_explore_choices_total", route="agent")
    print(f"last 500: {dict(last)} ({share:.1%} to {BEST}); explored {explored:.0f} of {decisions:.0f}")
    assert share >= 0.8, last
    assert decisions == REQUESTS
    assert explored / decisions <= EXPLORE["maxExplorePercent"] / 100, explored

    # A sidecar that starts later, on the fleet's evidence, serves the best from its first requests,
    # and a sidecar on the same resources without that evidence does not.
    inheriting = start_stack(sim, tmp_path / "later", evidence_status(metrics))
    fresh = start_stack(sim, tmp_path / "fresh")
    try:
        early = Counter(run(inheriting, 100, feedback=False, start=REQUESTS))
        naive = Counter(run(fresh, 100, feedback=False, start=REQUESTS))
    finally:
        inheriting.proxy.stop()
        fresh.proxy.stop()
    print(f"first 100 of a later sidecar: {dict(early)}; without the fleet's evidence: {dict(naive)}")
    assert early[BEST] >= 80, early
    assert naive[BEST] < 50, naive
