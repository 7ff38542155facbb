"""Resource documents and sim profiles the cluster tests share.

Endpoints point at the session's switchboard-sim and use a sim profile as their `model`, so that a request
routed by a sidecar shows which endpoint served it. `keyed` only answers requests carrying UPSTREAM_KEY,
which the sidecar can only have read from the operator's credentials Secret.
"""

from __future__ import annotations

from typing import Any

from support.stack import endpoint, route

UPSTREAM_KEY = "sk-switchboard-cluster-test-0123456789"
SIM_MODELS: dict[str, dict[str, Any]] = {
    "alpha": {},
    "beta": {},
    "gamma": {},
    "keyed": {"api_key": UPSTREAM_KEY},
}


def secret(name: str, values: dict[str, str]) -> dict[str, Any]:
    """A v1 Secret document (stringData: the API server stores it base64-encoded)."""
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": values}


def keyed_endpoint(name: str, sim_url: str, *, secret_name: str, key: str = "api-key") -> dict[str, Any]:
    """An endpoint reading its key from a Secret (model `keyed`: the sim checks the key)."""
    document = endpoint(name, sim_url, apiKey={"secretRef": {"name": secret_name, "key": key}})
    document["spec"]["model"] = "keyed"
    return document


def two_routes(sim_url: str) -> list[dict[str, Any]]:
    """alpha and beta endpoints; route `chat` (default) -> alpha, route `side` -> beta."""
    return [
        endpoint("alpha", sim_url),
        endpoint("beta", sim_url),
        route("chat", ["alpha"], default=True),
        route("side", ["beta"]),
    ]
