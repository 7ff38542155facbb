"""Fleet tests: several real sidecars sharing a real redis-server, in front of a real switchboard-sim.

Each test gets its own sim models, its own Redis (a temporary directory, a free loopback port, no
persistence) and its own sidecars, so buckets, budgets and circuits never leak between tests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from support.processes import Process
from support.redis_server import RedisServer, needs_redis
from support.stack import http, start_proxy, start_sim, write_resources

pytestmark = [pytest.mark.integration, needs_redis]


class Fleet:
    """Sidecars started from the same resources, with or without `--state`."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.sidecars: list[Process] = []

    def start(self, documents: Sequence[dict[str, Any]], *, count: int, state: str = "") -> list[Process]:
        resources = write_resources(self.tmp_path / f"resources-{len(self.sidecars)}", documents)
        args = ["--drain-seconds", "1", "--no-access-log"] + (["--state", state] if state else [])
        started = [start_proxy(resources=resources, args=args) for _ in range(count)]
        self.sidecars += started
        return started

    def stop(self) -> None:
        for sidecar in self.sidecars:
            sidecar.stop()
            print(f"--- sidecar log ---\n{sidecar.log_text()[-5000:]}")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sim_models(tmp_path: Path) -> Iterator[Any]:
    started: list[Process] = []

    def start(models: dict[str, dict[str, Any]]) -> Process:
        process = start_sim(models, tmp_dir=tmp_path)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    sidecars = Fleet(tmp_path)
    try:
        yield sidecars
    finally:
        sidecars.stop()


def sim_stats(sim: Process) -> dict[str, Any]:
    stats: dict[str, Any] = http("GET", f"{sim.base_url}/sim/stats").json()["models"]
    return stats
