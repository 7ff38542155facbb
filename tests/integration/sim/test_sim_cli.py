"""The `switchboard-sim` command: flags, config file, startup lines, clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import openai
import pytest

from support.processes import console_script, free_port, start_process, wait_ready
from support.stack import http
from support.waiting import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]

SIM = console_script("switchboard-sim")


def test_help_documents_flags_fields_and_faults() -> None:
    result = subprocess.run([SIM, "--help"], capture_output=True, text=True, timeout=10, check=False)
    assert result.returncode == 0
    for text in (
        "--model",
        "--listen",
        "--config",
        "--any-model",
        "examples:",
        "tokens_per_second",
        "midstream-fail",
    ):
        assert text in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--model", "m:fault=explode"], "fault", id="bad-fault"),
        pytest.param(["--model", "m:speed=3"], "speed", id="unknown-field"),
        pytest.param(["--listen", "m:9100"], "NAME=PORT", id="bad-listen"),
        pytest.param(["--config", "/nonexistent.yaml"], "cannot read", id="missing-config"),
    ],
)
def test_bad_flags_exit_2_naming_the_problem(args: list[str], message: str) -> None:
    result = subprocess.run(
        [SIM, "--port", "0", *args], capture_output=True, text=True, timeout=10, check=False
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_config_file_listen_ports_and_startup_lines(tmp_path: Path) -> None:
    port, small_port = free_port(), free_port()
    config = tmp_path / "sim.yaml"
    config.write_text(
        f"models:\n  small: {{output_tokens: 2}}\n  large: {{ttft_ms: 1}}\nlisten:\n  small: {small_port}\n"
    )
    process = start_process(
        [SIM, "--port", str(port), "--config", str(config)], ready_url=f"http://127.0.0.1:{port}/healthz"
    )
    try:
        wait_ready(process, f"http://127.0.0.1:{small_port}/healthz")
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{small_port}/v1", api_key="x", max_retries=0)
        response = client.chat.completions.create(model="large", messages=[{"role": "user", "content": "hi"}])
        assert response.model == "small"
        assert response.choices[0].message.content == "alpha bravo"
    finally:
        assert process.stop() == 0
    log = process.log_text()
    assert f"listening on http://127.0.0.1:{port} (models: small, large)" in log
    assert f"listening on http://127.0.0.1:{small_port} (pinned model: small)" in log


def test_port_in_use_exits_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [SIM, "--port", str(port)], capture_output=True, text=True, timeout=10, check=False
        )
    assert result.returncode == 1
    assert "cannot listen" in result.stderr


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stops_quickly_with_a_hung_request_in_flight(signum: int) -> None:
    port = free_port()
    process = start_process(
        [SIM, "--port", str(port), "--model", "stuck:fault=hang"],
        ready_url=f"http://127.0.0.1:{port}/healthz",
    )
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="x", max_retries=0, timeout=20)
    errors: list[BaseException] = []

    def call_stuck() -> None:
        try:
            client.chat.completions.create(model="stuck", messages=[{"role": "user", "content": "hi"}])
        except openai.APIError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call_stuck)
    caller.start()
    wait_until(
        lambda: http("GET", f"http://127.0.0.1:{port}/sim/stats").json()["models"]["stuck"]["inflight"] == 1,
        timeout=10,
        interval=0.02,
        what="the hung request to reach the sim",
    )
    started = time.monotonic()
    process.send_signal(signum)
    assert process.popen.wait(timeout=10) == 0, process.log_text()
    assert time.monotonic() - started < 3
    caller.join(timeout=10)
    assert errors, "the hung client got an error when the server went away, not a hang"
