"""The resources, sim profiles and small waiting helpers the sidecar API tests share.

`conftest.py` turns these into fixtures (one sim and one sidecar for the whole suite); tests that need a
sidecar of their own (other flags, other resources, a process they signal) start it with
`support.stack.start_proxy` or, when it must come up without a valid config, `start_unready_proxy`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from support.processes import Process, console_script, free_port, start_process
from support.stack import API_VERSION, endpoint, policy, route
from support.waiting import wait_until

T = TypeVar("T")

AZURE_KEY = "azure-key-0123456789abcdef"
AZURE_KEY_ENV = "SWITCHBOARD_TEST_AZURE_KEY"
AZURE_API_VERSION = "2024-10-21"
CHAT_A_PRICING = {"inputPerMTok": 1.0, "outputPerMTok": 2.0}

# Profiles of the shared sim; each endpoint's `model` is its profile name.
SIM_MODELS: dict[str, dict[str, Any]] = {
    "chat-a": {},
    "chat-b": {"served_model": "chat-b-upstream"},
    "emb": {},
    "claude-ep": {},
    "azdep": {"api_key": AZURE_KEY},
    "slow": {"tokens_per_second": 20, "output_tokens": 40},
}

# Routes of the shared sidecar and the models a client may ask for (route names plus aliases).
MODEL_IDS = {"chat", "gpt-4o-mini", "summarize", "embed", "claude", "azure", "slow", "exp"}


def azure_endpoint(name: str, url: str, *, deployment: str, key_env: str) -> dict[str, Any]:
    spec = {
        "provider": "azure-openai",
        "url": url,
        "model": deployment,
        "apiVersion": AZURE_API_VERSION,
        "apiKey": {"env": key_env},
    }
    return {"apiVersion": API_VERSION, "kind": "ModelEndpoint", "metadata": {"name": name}, "spec": spec}


def main_documents(sim_url: str) -> list[dict[str, Any]]:
    """Everything the shared sidecar serves: one route per API, task and alias rules, an experiment."""
    return [
        endpoint("chat-a", sim_url, pricing=CHAT_A_PRICING),
        endpoint("chat-b", sim_url),
        endpoint("emb", sim_url, capabilities=["embeddings"]),
        endpoint("claude-ep", sim_url, provider="anthropic"),
        endpoint("slow", sim_url),
        azure_endpoint("az", sim_url, deployment="azdep", key_env=AZURE_KEY_ENV),
        policy(
            "failover",
            chain=["chat-b"],
            retries={"attempts": 0},
            circuitBreaker={"consecutiveFailures": 50, "openSeconds": 1},
        ),
        route("chat", ["chat-a"], default=True, match={"models": ["gpt-4o-mini"]}, fallbackPolicy="failover"),
        route("summarize", ["chat-b"], match={"taskTypes": ["summarize"]}),
        route("embed", ["emb"]),
        route("claude", ["claude-ep"]),
        route("azure", ["az"]),
        route("slow", ["slow"]),
        route(
            "exp",
            ["chat-a"],
            experiment={
                "name": "exp-1",
                "stickyBy": "user",
                "variants": [
                    {"name": "control", "weight": 50},
                    {"name": "candidate", "weight": 50, "targets": [{"endpoint": "chat-b"}]},
                ],
            },
        ),
    ]


def start_unready_proxy(config: Path, *, args: Sequence[str] = ()) -> Process:
    """A sidecar on `--config`, started without waiting for /readyz (it may have no valid config)."""
    port = free_port()
    argv = [console_script("switchboard-proxy"), "--config", str(config), "--port", str(port)]
    process = start_process(
        [*argv, "--poll-seconds", "0.2", *args], ready_url=f"http://127.0.0.1:{port}/healthz"
    )
    process.base_url = f"http://127.0.0.1:{port}"
    return process


def chat_body(model: str = "chat", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hello"}], **extra}


def access_log_entry(proxy: Process, request_id: str) -> dict[str, Any]:
    """The sidecar's JSON access-log line for `request_id` (waits briefly for it to be written)."""

    def find() -> dict[str, Any] | None:
        for line in proxy.log_text().splitlines():
            if line.startswith("{") and f'"request_id":"{request_id}"' in line:
                entry: dict[str, Any] = json.loads(line)
                return entry
        return None

    entry = wait_until(find, timeout=3)
    assert entry is not None
    return entry
