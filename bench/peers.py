"""The benchmark's peer: a LiteLLM proxy on the same sim, started and stopped like the other targets.

LiteLLM is what most teams put in the sidecar's place, so it is measured in the same run, under the same
conditions, as a fourth target: its own virtualenv (`bench/litellm/install.sh`, a pinned version), one
worker (`--num_workers 1`, the sidecar's one process), no database (nothing in `general_settings` asks
for one), the cost map read from the package (no network), its logging at ERROR (the sidecar writes
its access log), no master key (the sidecar checks no key either). Its config names the sim's two
models as `openai/<model>` at the sim's URL.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml
from targets import FAST_MODEL, REPO, STREAM_MODEL

from support.processes import Process, free_port, start_process

INSTALL = REPO / "bench" / "litellm" / "install.sh"
ENVIRONMENT = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no fetch of the price list from the internet at start-up
    "LITELLM_LOG": "ERROR",
    "LITELLM_TELEMETRY": "False",
    "DISABLE_SCHEMA_UPDATE": "True",
}


def litellm_command() -> str:
    """The pinned LiteLLM's `litellm` command, installing it first if need be."""
    result = subprocess.run([str(INSTALL)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{INSTALL} failed:\n{result.stderr[-4000:]}")
    if result.stderr.strip():
        print(result.stderr.strip(), file=sys.stderr)
    return result.stdout.strip().splitlines()[-1]


def write_config(directory: Path, sim_url: str) -> Path:
    models = [
        {
            "model_name": name,
            "litellm_params": {"model": f"openai/{name}", "api_base": f"{sim_url}/v1", "api_key": "unused"},
        }
        for name in (FAST_MODEL, STREAM_MODEL)
    ]
    config = {
        "model_list": models,
        "litellm_settings": {"drop_params": True, "telemetry": False},
        "general_settings": {"dangerously_permit_weak_or_unset_master_key": True},
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "litellm.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def start_litellm(work_dir: Path, sim_url: str) -> Process:
    """The LiteLLM proxy on a free port, ready to serve; `.base_url` is set."""
    command = litellm_command()
    port = free_port()
    config = write_config(work_dir / "litellm", sim_url)
    argv = [
        command,
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
    process = start_process(
        argv, ready_url=f"http://127.0.0.1:{port}/health/liveliness", env=ENVIRONMENT, timeout=180
    )
    process.base_url = f"http://127.0.0.1:{port}"
    return process
