"""The strategies compared, as the resource documents a sidecar is started with.

Every strategy uses the ModelEndpoints of examples/endpoints.yaml (their prices and context windows),
pointed at the benchmark's switchboard-sim, without API keys (the sim needs none) and without their
request-rate limits: the benchmark sends an hour's traffic in a minute, and what it measures is where
requests go, not shedding. For the same reason the routes of examples/ lose their spend budget.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from qualities import Table

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
Document = dict[str, Any]


def example_documents(kind: str) -> list[Document]:
    found = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        found += [d for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == kind]
    return found


def endpoints(sim_url: str) -> list[Document]:
    documents = []
    for document in example_documents("ModelEndpoint"):
        spec = copy.deepcopy(document["spec"])
        spec["url"] = f"{sim_url}/v1"
        for unused in ("apiKey", "limits"):
            spec.pop(unused, None)
        documents.append({**document, "spec": spec})
    return documents


def _route(name: str, targets: list[str], **spec: Any) -> Document:
    return {
        "apiVersion": "switchboard.dev/v1alpha1",
        "kind": "ModelRoute",
        "metadata": {"name": name},
        "spec": {"targets": [{"endpoint": t} for t in targets], **spec},
    }


def always(endpoint: str) -> list[Document]:
    """One default route, one target."""
    return [_route("all", [endpoint], default=True)]


def examples() -> list[Document]:
    """The routes and fallback policies of examples/ as they are, less their spend budget."""
    routes = []
    for document in example_documents("ModelRoute"):
        spec = {k: v for k, v in document["spec"].items() if k != "budget"}
        routes.append({**document, "spec": spec})
    return [*example_documents("FallbackPolicy"), *routes]


def explore(table: Table, *, cost_weight: float) -> list[Document]:
    """One explore route per task type over the same targets, from uniform priors."""
    settings = {"costWeight": cost_weight, "maxExplorePercent": table.explore["max_explore_percent"]}
    return [
        _route(
            f"explore-{task}",
            list(table.explore["targets"]),
            match={"taskTypes": [task]},
            strategy="explore",
            explore=settings,
            default=task == "chat",
        )
        for task in table.workload
    ]


def all_strategies(table: Table, *, cheapest: str) -> dict[str, list[Document]]:
    """Name -> routes (and policies); the endpoints are added by the caller."""
    compared = {
        "always-frontier": always("frontier"),
        f"always-cheapest ({cheapest})": always(cheapest),
        "examples/ routes": examples(),
    }
    for weight in table.explore["cost_weights"]:
        compared[f"explore, costWeight {weight:g}"] = explore(table, cost_weight=weight)
    return compared
