"""A real switchboard-sim and a real switchboard-proxy on loopback, and small clients to drive them.

Integration tests and benchmarks start processes through this module: `start_sim(...)`, then
`write_resources(...)` + `start_proxy(...)`. `Stack` bundles both with the official SDK clients (no SDK
retries, so every failure is visible), a raw HTTP helper and a Prometheus metric reader.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from support.builders import policy, route, sim_endpoint, write_resources
from support.processes import Process, console_script, free_port, start_process

# The sim's endpoints under the name the integration tests use; every builder lives in support.builders.
endpoint = sim_endpoint
__all__ = ["endpoint", "policy", "route", "write_resources"]

API_VERSION = "switchboard.dev/v1alpha1"


@dataclass(frozen=True)
class Reply:
    """A raw HTTP answer."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        lowered = {k.lower(): v for k, v in self.headers.items()}
        return lowered.get(name.lower())


def http(
    method: str,
    url: str,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
    timeout: float = 30,
) -> Reply:
    """One request with urllib; returns the reply whatever its status."""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Reply(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, dict(error.headers), error.read())


def start_sim(
    models: dict[str, dict[str, Any]], *, listen: dict[str, int] | None = None, tmp_dir: Path
) -> Process:
    """switchboard-sim serving `models` (name -> profile fields) on a free port; `.base_url` is set."""
    port = free_port()
    config = tmp_dir / f"sim-{port}.json"
    config.write_text(json.dumps({"models": models, "listen": listen or {}}))
    process = start_process(
        [console_script("switchboard-sim"), "--port", str(port), "--config", str(config)],
        ready_url=f"http://127.0.0.1:{port}/healthz",
    )
    process.base_url = f"http://127.0.0.1:{port}"
    return process


def start_proxy(
    *,
    resources: Path | None = None,
    config: Path | None = None,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 20,
) -> Process:
    """switchboard-proxy on a free port with `--resources` or `--config`; `.base_url` is set."""
    port = free_port()
    source = ["--resources", str(resources)] if resources is not None else ["--config", str(config)]
    argv = [console_script("switchboard-proxy"), *source, "--port", str(port), "--poll-seconds", "0.2", *args]
    process = start_process(argv, ready_url=f"http://127.0.0.1:{port}/readyz", env=env, timeout=timeout)
    process.base_url = f"http://127.0.0.1:{port}"
    return process


@dataclass
class Stack:
    """A running sim and proxy."""

    sim: Process
    proxy: Process
    resources: Path

    @property
    def url(self) -> str:
        return self.proxy.base_url

    def openai(self, **options: Any) -> Any:
        import openai

        return openai.OpenAI(
            base_url=f"{self.url}/v1", api_key="unused-by-the-sidecar", max_retries=0, **options
        )

    def anthropic(self, **options: Any) -> Any:
        import anthropic

        return anthropic.Anthropic(
            base_url=self.url, api_key="unused-by-the-sidecar", max_retries=0, **options
        )

    def post(self, path: str, body: Any = None, **options: Any) -> Reply:
        return http("POST", self.url + path, body, **options)

    def get(self, path: str) -> Reply:
        return http("GET", self.url + path)

    def fault(self, model: str, **profile: Any) -> None:
        """Change a simulated model's profile (e.g. fault="error-503"); `heal` undoes it."""
        assert http("PUT", f"{self.sim.base_url}/sim/models/{model}", profile).status == 200

    def heal(self, model: str) -> None:
        assert http("DELETE", f"{self.sim.base_url}/sim/models/{model}").status == 200

    def sim_stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = http("GET", f"{self.sim.base_url}/sim/stats").json()["models"]
        return stats

    def sim_requests(self, model: str = "", limit: int = 50) -> list[dict[str, Any]]:
        query = f"?model={model}&limit={limit}" if model else f"?limit={limit}"
        requests: list[dict[str, Any]] = http("GET", f"{self.sim.base_url}/sim/requests{query}").json()[
            "requests"
        ]
        return requests

    def metric(self, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels` (0.0 when absent)."""
        return read_metric(self.get("/metrics").body.decode(), name, **labels)


_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


def read_metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if not match or match["name"] != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match["labels"] or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match["value"])
    return total
