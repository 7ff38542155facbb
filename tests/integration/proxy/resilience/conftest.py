"""Resilience tests against a real `switchboard-sim` and a real `switchboard-proxy` on loopback.

One sim serves the whole session (its models are created per test with `PUT /sim/models/NAME` and dropped
again by `POST /sim/reset` afterwards); every test starts its own sidecar from its own resources, so
circuits, retry budgets and metrics never leak from one test into another. Clients are the official SDKs
with retries off, so every failure the sidecar lets through is visible.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from support.fake_upstream import FakeUpstream
from support.processes import Process
from support.stack import Stack, http, start_proxy, start_sim, write_resources

# The sim must not answer unknown model names with a `default` profile: a typo would then "work".
STARTUP_MODELS = {"unused": {}}


class StackFactory:
    """`make_stack(models, documents)`: sim models with these profiles and a sidecar serving the documents."""

    def __init__(self, sim: Process, tmp_path: Path) -> None:
        self.sim = sim
        self.sim_url = sim.base_url
        self.tmp_path = tmp_path
        self.proxies: list[Process] = []

    def __call__(self, models: dict[str, dict[str, Any]], documents: Sequence[dict[str, Any]]) -> Stack:
        for name, profile in models.items():
            reply = http("PUT", f"{self.sim_url}/sim/models/{name}", profile)
            assert reply.status == 200, reply.body
        resources = write_resources(self.tmp_path / f"resources-{len(self.proxies)}", documents)
        proxy = start_proxy(resources=resources, args=["--drain-seconds", "2"])
        self.proxies.append(proxy)
        return Stack(self.sim, proxy, resources)

    def stop(self) -> None:
        for proxy in self.proxies:
            proxy.stop()
            # Shown by pytest only when the test failed: what the sidecar logged, access log included.
            print(f"--- {proxy.argv[0]} log ---\n{proxy.log_text()[-20000:]}")


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    process = start_sim(STARTUP_MODELS, tmp_dir=tmp_path_factory.mktemp("sim"))
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def make_stack(sim: Process, tmp_path: Path) -> Iterator[StackFactory]:
    factory = StackFactory(sim, tmp_path)
    try:
        yield factory
    finally:
        factory.stop()
        assert http("POST", f"{sim.base_url}/sim/reset").status == 200


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[FakeUpstream]:
    upstream = FakeUpstream.start_in_thread()
    try:
        yield upstream
    finally:
        upstream.stop()
