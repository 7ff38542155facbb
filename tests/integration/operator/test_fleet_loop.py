"""The quality loop against real processes: Prometheus scrapes two sidecars every second, the operator's
fleet loop judges their experiments, and what it writes into status reaches both sidecars' configs.

- an error spike on a candidate's endpoint trips the fleet guardrail: weight 0 in every sidecar within
  60 s, with the condition and a Warning naming the metric and values;
- a better candidate concludes the sequential test and, with autoPromote, serves 100%;
- a sidecar left on an old config is reported in status.rollout until it catches up.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fleet_harness import FileKube, served_version

from support.local_prometheus import NAMESPACE, PrometheusProcess, start_prometheus
from support.processes import Process
from support.quality_loop import MODELS, experiment_objects
from support.stack import Stack, http, start_proxy, start_sim
from support.waiting import wait_until
from switchboard_operator.fleet import FleetLoop
from switchboard_proxy.telemetry.prometheus import Prometheus

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]


def resource(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    metadata = {"name": name, "namespace": NAMESPACE, "uid": f"uid-{name}", "generation": 1}
    return {"apiVersion": "switchboard.dev/v1alpha1", "kind": kind, "metadata": metadata, "spec": spec}


def namespace_objects(sim_url: str) -> list[dict[str, Any]]:
    return experiment_objects(resource, sim_url)


@dataclass
class Loop:
    kube: FileKube
    sidecars: dict[str, Stack]  # pod name -> sidecar serving the resources file
    lagging: Stack  # pod-c: runs --config of a file nobody updates
    lagging_config: Path
    prometheus: PrometheusProcess
    fleet: FleetLoop

    def traffic(self, route: str, count: int) -> None:
        """`count` requests to `route`, spread over the current sidecars (bounded: 30 s client timeout)."""
        stacks = list(self.sidecars.values())

        def one(i: int) -> None:
            body = {"model": route, "messages": [{"role": "user", "content": "hi"}]}
            stacks[i % len(stacks)].post("/v1/chat/completions", body)

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, range(count)))

    def fault(self, model: str, *, error_rate: float) -> None:
        """Make a share of the sim model's requests answer 503 (what an upstream incident looks like)."""
        self.lagging.fault(model, fault="error-503", error_rate=error_rate)

    def weights(self, route: str) -> dict[str, int]:
        """Variant weights of the config the operator compiled last (the ConfigMap's)."""
        return {v["name"]: v["weight"] for v in self.kube.compiled()["routes"][route]["variants"]}

    def everyone_serves_the_current_config(self) -> bool:
        version = self.kube.compiled()["version"]
        return all(served_version(s) == version for s in self.sidecars.values())


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loop]:
    root = tmp_path_factory.mktemp("fleet")
    sim: Process = start_sim({m: {} for m in MODELS}, tmp_dir=root)
    processes: list[Any] = [sim]
    try:
        kube = FileKube(root / "resources", namespace_objects(sim.base_url))
        sidecars = {}
        for pod in ("pod-a", "pod-b"):
            proxy = start_proxy(config=kube.config_file)
            processes.append(proxy)
            sidecars[pod] = Stack(sim=sim, proxy=proxy, resources=kube.directory)
        stale = root / "stale-config.json"
        stale.write_text(kube.config)
        proxy = start_proxy(config=stale)
        processes.append(proxy)
        lagging = Stack(sim=sim, proxy=proxy, resources=stale)
        targets = {pod: s.url for pod, s in sidecars.items()} | {"pod-c": lagging.url}
        prometheus = start_prometheus(targets, root / "prometheus")
        processes.append(prometheus)
        fleet = FleetLoop(kube, Prometheus(prometheus.url), kube.reconcile)
        yield Loop(kube, sidecars, lagging, stale, prometheus, fleet)
    finally:
        for process in reversed(processes):
            process.stop()


def pass_until(loop: Loop, what: str, done: Any, *, route: str, timeout: float) -> float:
    """Traffic, a scrape, a fleet pass, repeated until `done()`; seconds it took."""
    started = time.monotonic()

    def step() -> Any:
        loop.traffic(route, 40)
        time.sleep(1.2)  # one scrape interval, so Prometheus holds what was just sent
        loop.fleet.run_namespace(NAMESPACE, now=datetime.now(UTC))
        return done()

    wait_until(step, timeout=timeout, interval=0.0, what=what)
    return time.monotonic() - started


def test_an_error_spike_trips_the_fleet_guardrail_in_every_sidecar_within_60_s(loop: Loop) -> None:
    loop.traffic("guarded", 40)
    http(
        "PUT",
        f"{loop.sidecars['pod-a'].sim.base_url}/sim/models/cand-a",
        {"fault": "error-503", "error_rate": 0.5},
    )

    def tripped() -> bool:
        return loop.weights("guarded")["candidate"] == 0 and loop.everyone_serves_the_current_config()

    elapsed = pass_until(loop, "candidate at weight 0 in every sidecar", tripped, route="guarded", timeout=60)
    print(f"guardrail: weight 0 in every sidecar {elapsed:.1f} s after the error spike began")
    status = loop.kube.status_of("ModelRoute", "guarded")
    assert status["experiment"]["stopped"] == ["candidate"]
    (breach,) = status["experiment"]["breaches"]
    assert breach["metric"] == "error-rate" and breach["value"] > 0.05
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["ExperimentGuardrailTripped"]["status"] == "True"
    warnings = [
        e for e in loop.kube.events if e.reason == "ExperimentGuardrailTripped" and e.name == "guarded"
    ]
    assert warnings and "error-rate" in warnings[0].message and warnings[0].type == "Warning"
    # Every new request of the route goes to the control now.
    replies = [
        s.post("/v1/chat/completions", {"model": "guarded", "messages": [{"role": "user", "content": "x"}]})
        for s in loop.sidecars.values()
        for _ in range(10)
    ]
    assert {r.header("X-Switchboard-Variant") for r in replies} == {"control"}


def test_a_better_candidate_concludes_and_is_promoted_everywhere(loop: Loop) -> None:
    http(
        "PUT",
        f"{loop.sidecars['pod-a'].sim.base_url}/sim/models/ctl-b",
        {"fault": "error-503", "error_rate": 0.15},
    )

    def promoted() -> bool:
        return (
            loop.weights("promoted") == {"control": 0, "candidate": 100}
            and loop.everyone_serves_the_current_config()
        )

    elapsed = pass_until(loop, "candidate promoted in every sidecar", promoted, route="promoted", timeout=180)
    experiment = loop.kube.status_of("ModelRoute", "promoted")["experiment"]
    figures = {v["name"]: v["requests"] for v in experiment["variants"]}
    print(
        f"experiment concluded '{experiment['verdict']}' and promoted in {elapsed:.1f} s, requests {figures}"
    )
    assert experiment["verdict"] == "candidate wins" and experiment["promoted"] is True
    conditions = {c["type"]: c for c in loop.kube.status_of("ModelRoute", "promoted")["conditions"]}
    assert conditions["ExperimentConcluded"]["reason"] == "Promoted"


def test_a_lagging_sidecar_shows_in_rollout_until_it_catches_up(loop: Loop) -> None:
    def rollout() -> dict[str, Any]:
        loop.fleet.run_namespace(NAMESPACE, now=datetime.now(UTC))
        found: dict[str, Any] = loop.kube.status_of("ModelRoute", "guarded").get("rollout", {})
        return found

    lagging = wait_until(
        lambda: (r := rollout()).get("lagging") == ["pod-c"] and r, timeout=30, what="pod-c lagging"
    )
    assert (lagging["current"], lagging["total"]) == (2, 3)
    loop.lagging_config.write_text(loop.kube.config)  # its config catches up
    caught_up = wait_until(
        lambda: (r := rollout()).get("lagging") == [] and r, timeout=30, what="nobody lagging"
    )
    assert (caught_up["current"], caught_up["total"]) == (3, 3)
    assert json.loads(loop.kube.config)["version"] == caught_up["version"]
