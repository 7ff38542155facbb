"""A real `switchboard-sim` process for the sim's integration tests.

One process serves the whole session (starting it costs about half a second); every test starts from the
startup profiles because an autouse fixture calls `POST /sim/reset` after it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sim_client import API_KEY, Sim

from support.processes import console_script, free_port, start_process

# Startup models: the tests switch faults on with PUT /sim/models/NAME and rely on reset afterwards.
STARTUP_MODELS = [
    "chat",
    f"keyed:api_key={API_KEY}",
    "pinned:served_model=pinned-served",
    "azure-dep",
]


@pytest.fixture(scope="session")
def sim() -> Iterator[Sim]:
    port, pinned_port = free_port(), free_port()
    argv = [console_script("switchboard-sim"), "--port", str(port), "--listen", f"pinned={pinned_port}"]
    for model in STARTUP_MODELS:
        argv += ["--model", model]
    process = start_process(argv, ready_url=f"http://127.0.0.1:{port}/healthz")
    try:
        yield Sim(
            process=process, base_url=f"http://127.0.0.1:{port}", pinned_url=f"http://127.0.0.1:{pinned_port}"
        )
    finally:
        exit_code = process.stop()
        assert exit_code == 0, process.log_text()


@pytest.fixture(autouse=True)
def _reset_sim_after_test(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "sim" in request.fixturenames:
        sim: Sim = request.getfixturevalue("sim")
        assert sim.call("POST", "/sim/reset")[0] == 200
