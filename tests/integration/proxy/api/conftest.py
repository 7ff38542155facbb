"""Fixtures of the sidecar API tests: one real switchboard-sim and one real sidecar for the whole suite.

Starting processes costs about half a second each, so the suite shares them; an autouse fixture puts the
sim back to its startup profiles after every test that used it. Tests needing other flags or resources
start their own sidecar against the shared sim.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sidecars import AZURE_KEY, AZURE_KEY_ENV, SIM_MODELS, main_documents

from support.processes import Process
from support.stack import Stack, http, start_proxy, start_sim, write_resources


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Process]:
    process = start_sim(SIM_MODELS, tmp_dir=tmp_path_factory.mktemp("sim"))
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def stack(sim: Process, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The shared sidecar, in local mode on `main_documents`."""
    resources = write_resources(tmp_path_factory.mktemp("main") / "resources", main_documents(sim.base_url))
    proxy = start_proxy(resources=resources, env={AZURE_KEY_ENV: AZURE_KEY})
    try:
        yield Stack(sim=sim, proxy=proxy, resources=resources)
    finally:
        proxy.stop()


@pytest.fixture(autouse=True)
def _reset_sim_after_test(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sim" in request.fixturenames:
        sim: Process = request.getfixturevalue("sim")
        assert http("POST", f"{sim.base_url}/sim/reset").status == 200
